"""Dataset specs as strings, read without TensorFlow: the training
configuration picks a source's defaults from them before any pipeline is
built."""


def source_name(spec):
    """The named source a dataset spec starts with: "emoji" of "emoji:group",
    "fashion" of "fashion:test" (a path comes back whole)."""
    return spec.split(":")[0]
