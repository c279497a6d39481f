"""Cross-backend benchmarks of keras-simple-diffusion (issue 5).

    python -m benchmarks.run [--quick] [--backends jax,tensorflow,torch] [--out benchmarks/results]

See benchmarks/README.md.
"""
