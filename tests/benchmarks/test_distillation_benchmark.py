import os

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
