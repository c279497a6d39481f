"""Cross-backend benchmarks of keras-simple-diffusion.

    python -m benchmarks.run [--quick] [--backends jax,tensorflow,torch] [--out benchmarks/results]

See benchmarks/README.md.
"""
