import json
import os

import pytest

from benchmarks import distillation


def test_rows_score_the_teacher_ancestral_and_ddim_and_each_chosen_student_per_sampler(tmp_path):
    for folder in ("round_1_64_steps", "round_4_8_steps", "round_5_4_steps"):
        os.makedirs(tmp_path / folder)
    rows = distillation.rows(
        "teacher.keras", str(tmp_path), [128], [128, 8], [8, 4], ["ddim", "stochastic"]
    )
    eight, four = (
        str(tmp_path / folder / "model.keras") for folder in ("round_4_8_steps", "round_5_4_steps")
    )
    assert rows == [
        ("teacher, 128 steps", "teacher.keras", 128, "ancestral"),
        ("teacher, 128 DDIM steps", "teacher.keras", 128, "ddim"),
        ("teacher, 8 DDIM steps", "teacher.keras", 8, "ddim"),
        ("student, 8 steps", eight, 8, "ddim"),
        ("student, 8 steps, stochastic", eight, 8, "stochastic"),
        ("student, 4 steps", four, 4, "ddim"),
        ("student, 4 steps, stochastic", four, 4, "stochastic"),
    ]


class _Model:
    def __init__(self, num_classes=0, text_encoder=None):
        self.num_classes, self.text_encoder, self.image_size = num_classes, text_encoder, 32


def test_samples_are_conditioned_as_the_model_is():
    assert distillation.conditions(_Model(num_classes=3), 4) == dict(labels=[0, 1, 2, 0])
    assert distillation.conditions(_Model(), 4) == dict(num_images=4)
    prompts = distillation.conditions(_Model(text_encoder=object()), 4)["prompts"]
    assert len(prompts) == 4 and all(prompt.startswith("a ") for prompt in prompts)


def _results(**scores):
    row = dict(name="teacher, 128 steps", images_per_second=2.0, load=[1.0, 1.5], **scores)
    return dict(
        machine=dict(cpu_model="CPU", usable_cores=2),
        settings=dict(num_samples=8, guidance=3.0, seed=1),
        rows=[row, dict(row, name="student, 8 steps", images_per_second=30.0)],
    )


def test_the_table_shows_the_scores_of_the_models_kind(tmp_path):
    path = tmp_path / "table.md"
    distillation.write_table(_results(accuracy=0.98, fd_ratio=1.384, pixel_fd_ratio=1.25), path)
    lines = path.read_text().splitlines()
    assert lines[0] == "Machine: CPU, 2 cores; 8 samples, guidance 3.0, sampling seed 1."
    assert lines[2] == (
        "| sampler | accuracy | FD ratio (classifier) | FD ratio (pooled pixels) | images/s "
        "| speed-up | 1-min load |"
    )
    assert lines[5] == "| student, 8 steps | 98.0% | 1.38 | 1.25 | 30.00 | 15.0x | 1.0-1.5 |"
    text = _results(prompt_adherence=0.95, prompt_adherence_unguided=0.9, pixel_fd_ratio=1.5)
    distillation.write_table(text, path)
    lines = path.read_text().splitlines()
    assert lines[2].startswith(
        "| sampler | prompt adherence | unguided | FD ratio (pooled pixels) |"
    )
    assert lines[5].startswith("| student, 8 steps | 95.0% | 90.0% | 1.50 | 30.00 | 15.0x |")


@pytest.mark.parametrize(
    "scored",
    [dict(num_samples=500, guidance=0.0, seed=0), dict(num_samples=500, guidance=0.0)],
    ids=["seed recorded", "written before seeds were recorded: seed 0"],
)
def test_a_rerun_with_other_settings_is_refused_rather_than_mixed(scored, tmp_path, capsys):
    (tmp_path / "distillation.json").write_text(json.dumps(dict(rows=[], settings=scored)))
    with pytest.raises(SystemExit):
        distillation.main(
            ["--teacher", "t", "--distilled", "d", "--seed", "1", "--out", str(tmp_path)]
        )
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "'seed': 0" in error and "'seed': 1" in error and error.endswith("pass another --out")
