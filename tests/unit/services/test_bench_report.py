"""The benchmark's account of where the end-to-end run's time went."""

from __future__ import annotations

from rich.console import Console

from touchstream.services.bench import BenchReport, _deltas, render


def test_deltas_are_what_accrued_during_the_run_including_stages_first_seen_in_it() -> None:
    before = {"decode": 1.0, "project": 4.0}
    after = {"decode": 3.5, "project": 10.0, "churn_risk": 2.0}
    assert _deltas(before, after) == {"decode": 2.5, "project": 6.0, "churn_risk": 2.0}


def test_stages_are_shown_largest_first_as_shares_of_the_run_and_cpu_as_cores() -> None:
    report = BenchReport(events=1000, text_share=0.2, machine={})
    report.end_to_end_time = {
        "wall_s": {"run": 10.0},
        "stage_s": {"decode": 1.0, "project": 6.0, "churn_risk": 2.5},
        "cpu_s": {"up": 15.0},
    }
    console = Console(width=120, record=True)
    console.print(render(report))
    text = console.export_text()
    lines = [
        line for line in text.splitlines() if any(s in line for s in ("project", "churn", "decode"))
    ]
    assert [line.split()[1] for line in lines] == ["project", "churn", "decode"]
    assert "60%" in lines[0] and "25%" in lines[1] and "10%" in lines[2]
    assert "1.50 cores" in text


def test_a_report_without_a_timed_run_renders_without_shares() -> None:
    console = Console(width=120, record=True)
    console.print(render(BenchReport(events=0, text_share=0.0, machine={})))
    assert "share" in console.export_text()


def test_the_report_says_how_many_processor_processes_ran() -> None:
    console = Console(width=120, record=True)
    console.print(render(BenchReport(events=0, text_share=0.0, machine={}, processors=2)))
    assert "2 (beside up)" in console.export_text()
