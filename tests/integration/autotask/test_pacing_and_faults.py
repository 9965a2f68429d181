"""Limits, pacing, backoff and faults: the client against a misbehaving sandbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from app.core.autotask import (
    AutotaskNetworkError,
    AutotaskServerError,
    AutotaskValidationError,
    ForeignHostRefusedError,
    PacingPolicy,
    RateLimitedError,
    RetryPolicy,
    ThreadLimitError,
)
from app.sandbox.autotask import AutotaskSandbox, Faults
from tests.integration.autotask.conftest import (
    RecordingSleep,
    first_invoice,
    make_client,
    make_sandbox,
)

THREAD_REFUSAL = ("Thread Threshold Exceeded: Error code Itgenatr005 - The threshold of 3 "
                  "threads has been exceeded.")


def test_client_never_has_more_than_three_requests_in_flight_per_endpoint() -> None:
    with make_sandbox(latency_ms=25) as sandbox:
        client = make_client(sandbox, pacing=PacingPolicy(check_every_requests=10_000))
        with ThreadPoolExecutor(max_workers=10) as pool:
            results = list(pool.map(
                lambda n: client.query_page("Invoices", [{"op": "gt", "field": "id",
                                                          "value": n}], max_records=5),
                range(30)))
            list(pool.map(lambda n: client.count("Companies"), range(12)))
        assert all(len(r) == 5 for r in results)
        assert sandbox.max_in_flight("invoices") == 3
        assert sandbox.max_in_flight("companies") == 3
        assert sandbox.gate.refusals == 0


def test_sandbox_refuses_a_fourth_concurrent_request_on_one_entity() -> None:
    with make_sandbox(latency_ms=400) as sandbox:
        creds = sandbox.credentials
        headers = {"ApiIntegrationCode": creds.integration_code, "UserName": creds.username,
                   "Secret": creds.secret}
        url = f"{sandbox.zone_url}V1.0/Companies/174"
        barrier = threading.Barrier(5)

        def call(_: int) -> int:
            barrier.wait()
            return requests.get(url, headers=headers, timeout=(5, 30)).status_code

        with ThreadPoolExecutor(max_workers=5) as pool:
            statuses = sorted(pool.map(call, range(5)))
        assert statuses[:3] == [200, 200, 200]
        assert statuses[-1] == 500 and set(statuses) == {200, 500}
        assert sandbox.max_in_flight("companies") == 3
        assert sandbox.gate.refusals == statuses.count(500)


def test_thread_threshold_refusal_is_backed_off_and_retried_whatever_its_status(
        sandbox: AutotaskSandbox) -> None:
    sleep = RecordingSleep()
    client = make_client(sandbox, sleep=sleep)
    client.count("Invoices")
    sandbox.fail_next(times=2, status=500, message=THREAD_REFUSAL, path_contains="Invoices")
    record = client.get("Invoices", first_invoice(sandbox))
    assert record is not None and record["id"] == first_invoice(sandbox)
    assert client.stats().retries == 2
    sandbox.fail_next(times=1, status=409, message=THREAD_REFUSAL, retry_after=0.25)
    assert client.get("Invoices", first_invoice(sandbox)) is not None
    assert sleep.calls[-1] == pytest.approx(0.25)


def test_thread_threshold_refusal_exhausting_retries_is_typed(sandbox: AutotaskSandbox) -> None:
    client = make_client(sandbox, sleep=RecordingSleep())
    client.count("Invoices")
    sandbox.fail_next(times=10, status=500, message=THREAD_REFUSAL)
    with pytest.raises(ThreadLimitError):
        client.get("Invoices", first_invoice(sandbox))


def test_429_is_retried_after_the_time_autotask_asks_for(sandbox: AutotaskSandbox) -> None:
    sleep = RecordingSleep()
    client = make_client(sandbox, sleep=sleep)
    client.count("Invoices")
    sandbox.fail_next(status=429, retry_after=2, message="Rate limit exceeded")
    assert client.count("Invoices") == 1_234
    assert 2.0 in sleep.calls


def test_hourly_limit_refusal_is_waited_out_as_autotask_asks() -> None:
    # The hour lasts 1.5 real seconds; the budget is already used up by "other programs".
    with make_sandbox(threshold=20, time_scale=2400) as sandbox:
        sleep = RecordingSleep(real=True)
        client = make_client(sandbox, sleep=sleep, pacing=PacingPolicy(
            check_every_requests=10_000, moderate_at=2.0, strong_at=2.0, exhausted_at=2.0))
        client.get("Companies", 1)  # discovery and the first budget check
        sandbox.set_usage(20)
        assert client.count("Companies") == 40
        assert sleep.calls == [2.0]  # Retry-After, whole seconds
        assert client.stats().retries == 1
        assert sandbox.request_counts()["POST companies"] == 2


@pytest.fixture
def fast_clock_sandbox() -> Iterator[AutotaskSandbox]:
    """The hour lasts 72 s and Autotask's added latencies are 50 times shorter."""
    with make_sandbox(time_scale=50) as sandbox:
        yield sandbox


def test_pacing_slows_down_before_the_50_and_75_percent_marks(
        fast_clock_sandbox: AutotaskSandbox) -> None:
    sandbox = fast_clock_sandbox
    sleep = RecordingSleep()
    policy = PacingPolicy(check_every_requests=1, moderate_delay=0.11, strong_delay=0.33,
                          exhausted_wait=0.5, exhausted_max_wait=1.0)
    client = make_client(sandbox, pacing=policy, sleep=sleep)
    sandbox.set_usage(1_000)
    client.get("Companies", 174)
    assert sleep.calls == []
    sandbox.set_usage(4_600)  # 46 % — Autotask adds latency from 50 %
    client.get("Companies", 174)
    assert sleep.calls == [0.11]
    sandbox.set_usage(7_200)
    client.get("Companies", 174)
    assert sleep.calls[-1] == 0.33
    assert client.last_threshold is not None and client.last_threshold.usage > 0.7


def test_pacing_stops_near_the_limit_instead_of_being_refused(
        fast_clock_sandbox: AutotaskSandbox) -> None:
    sandbox = fast_clock_sandbox
    sleep = RecordingSleep()
    policy = PacingPolicy(check_every_requests=1, exhausted_wait=0.5, exhausted_max_wait=1.0)
    client = make_client(sandbox, pacing=policy, sleep=sleep)
    sandbox.set_usage(9_700)
    with pytest.raises(RateLimitedError) as caught:
        client.get("Companies", 174)
    assert "hourly request limit" in caught.value.message
    assert sleep.calls == [0.5, 0.5]
    assert sandbox.request_counts().get("GET companies") is None


def test_sandbox_adds_autotask_latency_past_half_of_the_threshold() -> None:
    with make_sandbox(threshold=100, time_scale=2) as sandbox:  # +0.25 s at 50 %, +0.5 s at 75 %
        client = make_client(sandbox, pacing=PacingPolicy(check_every_requests=10_000,
                                                          moderate_at=2.0, strong_at=2.0,
                                                          exhausted_at=2.0))
        client.get("Companies", 1)

        def timed() -> float:
            started = time.monotonic()
            client.get("Companies", 1)
            return time.monotonic() - started

        fast = timed()
        sandbox.set_usage(60)
        moderate = timed()
        sandbox.set_usage(80)
        strong = timed()
        assert fast < 0.25 <= moderate < strong
        assert strong >= 0.5


@pytest.mark.parametrize("body", ["html", "empty", "json"])
def test_server_errors_are_retried_for_reads(sandbox: AutotaskSandbox, body: str) -> None:
    client = make_client(sandbox)
    client.count("Invoices")
    sandbox.fail_next(times=2, status=503 if body == "json" else 500, body=body)
    assert client.get("Invoices", first_invoice(sandbox)) is not None
    assert client.stats().retries == 2


def test_html_error_page_becomes_a_server_error_message(sandbox: AutotaskSandbox) -> None:
    client = make_client(sandbox)
    client.count("Invoices")
    sandbox.fail_next(times=10, status=500, body="html")
    with pytest.raises(AutotaskServerError) as caught:
        client.get("Invoices", first_invoice(sandbox))
    assert "<html" not in caught.value.message.lower()
    assert "Autotask had a problem" in caught.value.message


def test_dropped_connections_are_retried_for_reads(sandbox: AutotaskSandbox) -> None:
    client = make_client(sandbox)
    client.count("Invoices")
    sandbox.fail_next(times=2, drop=True)
    assert client.count("Invoices") == 1_234


def test_random_faults_do_not_corrupt_a_full_read() -> None:
    faults = Faults(error_rate=0.1, drop_rate=0.05, error_body="html", latency_jitter_ms=5)
    with make_sandbox(faults=faults) as sandbox:
        client = make_client(sandbox, retry=RetryPolicy(attempts=8, backoff_base=0.001,
                                                        backoff_max=0.01))
        ids = [r["id"] for page in client.query_all("Invoices", page_size=100) for r in page]
        faults.error_rate = faults.drop_rate = 0.0
        assert ids == [r["id"] for r in sandbox.records("Invoices")]
        assert client.stats().retries > 0


def _foreign() -> AutotaskSandbox:
    return AutotaskSandbox(companies=2, contacts=0, contracts=0, tickets=0, invoices=0,
                           host="localhost")


def test_foreign_next_page_url_is_refused_without_sending_credentials(
        sandbox: AutotaskSandbox) -> None:
    with _foreign() as foreign:
        foreign_port = foreign.origin.rsplit(":", 1)[1]
        sandbox.faults.next_page_host = f"localhost:{foreign_port}"
        client = make_client(sandbox)
        body: dict[str, Any] = {"MaxRecords": 100, "Filter": [{"op": "exist", "field": "id"}]}
        page = client.query_page("Invoices", max_records=100)
        assert len(page) == 100
        answer = client._call("POST", "Invoices/query", entity="Invoices", read=True,
                              json_body=body)
        next_url = answer["pageDetails"]["nextPageUrl"]
        assert next_url.startswith(f"http://localhost:{foreign_port}/")
        with pytest.raises(ForeignHostRefusedError) as caught:
            client.query_next_page(next_url, body)
        assert "did not send your credentials" in caught.value.message
        assert foreign.request_counts() == {"total": 0}


def test_redirect_to_another_host_is_refused_without_sending_credentials(
        sandbox: AutotaskSandbox) -> None:
    with _foreign() as foreign:
        client = make_client(sandbox)
        client.count("Invoices")
        sandbox.faults.redirect_to = foreign.origin
        with pytest.raises(ForeignHostRefusedError):
            client.get("Invoices", first_invoice(sandbox))
        assert foreign.request_counts() == {"total": 0}


def test_a_failed_create_is_never_retried(sandbox: AutotaskSandbox) -> None:
    client = make_client(sandbox)
    client.count("Invoices")
    company = sandbox.records("Companies")[0]["id"]
    note = {"title": "Payment", "description": "ref PD-1", "actionType": 15}
    for fault in ({"status": 500, "body": "html"}, {"status": 503, "body": "json"},
                  {"drop": True}):
        before = sandbox.request_counts().get("POST companies", 0)
        sandbox.fail_next(times=5, path_contains="/Notes", **fault)
        with pytest.raises((AutotaskServerError, AutotaskNetworkError)):
            client.create_note(company, note)
        assert sandbox.request_counts().get("POST companies", 0) == before + 1
        sandbox.faults.scripted.clear()
    assert sandbox.notes() == []
    assert client.stats().retries == 0


def test_a_rate_limited_create_is_retried_because_autotask_did_nothing(
        sandbox: AutotaskSandbox) -> None:
    client = make_client(sandbox, sleep=RecordingSleep())
    client.count("Invoices")
    company = sandbox.records("Companies")[0]["id"]
    sandbox.fail_next(status=429, retry_after=0.1, path_contains="/Notes")
    client.create_note(company, {"description": "ref PD-2", "actionType": 15})
    assert len(sandbox.notes()) == 1


def test_request_counter_counts_what_was_sent(sandbox: AutotaskSandbox) -> None:
    client = make_client(sandbox, pacing=PacingPolicy(check_every_requests=1000))
    for _ in client.query_all("Invoices"):
        pass
    stats = client.stats()
    assert stats.total == sandbox.request_counts()["total"] - 1  # minus the zone lookup
    assert stats.by_entity == {"ThresholdInformation": 1, "Invoices": 3}


def test_several_clients_with_one_integration_code_share_the_three_slots() -> None:
    with make_sandbox(latency_ms=25) as sandbox:
        clients = [make_client(sandbox) for _ in range(3)]
        with ThreadPoolExecutor(max_workers=9) as pool:
            list(pool.map(lambda n: clients[n % 3].count("Invoices"), range(27)))
        assert sandbox.max_in_flight("invoices") == 3
        assert sandbox.gate.refusals == 0


def test_a_500_error_message_to_a_read_is_tried_again_a_few_times(
        sandbox: AutotaskSandbox) -> None:
    sleep = RecordingSleep()
    client = make_client(sandbox, sleep=sleep, retry=RetryPolicy(
        attempts=5, backoff_base=0.01, error_answer_attempts=3, error_answer_wait=0.01))
    client.count("Invoices")
    invoice = first_invoice(sandbox)
    for call in (lambda: client.get("Invoices", invoice), lambda: client.count("Invoices"),
                 lambda: client.query_page("Invoices", [{"op": "gt", "field": "id",
                                                          "value": 0}], max_records=2)):
        sandbox.fail_next(times=2, status=500, body="json", message="Object reference "
                          "not set to an instance of an object.")
        assert call()
    assert client.stats().retries == 6
    # A message that stays is Autotask's answer: it is passed on after the last try.
    sandbox.fail_next(times=5, status=500, body="json", message="Query is not valid.")
    before = sandbox.request_counts()["total"]
    with pytest.raises(AutotaskValidationError, match="Query is not valid"):
        client.count("Invoices")
    assert sandbox.request_counts()["total"] - before == 3


def test_a_500_error_message_to_a_create_is_not_repeated(sandbox: AutotaskSandbox) -> None:
    client = make_client(sandbox)
    client.count("Invoices")
    company = sandbox.records("Companies")[0]["id"]
    sandbox.fail_next(times=5, status=500, body="json", path_contains="/Notes",
                      message="Object reference not set to an instance of an object.")
    before = sandbox.request_counts().get("POST companies", 0)
    with pytest.raises(AutotaskValidationError):
        client.create_note(company, {"description": "ref PD-3", "actionType": 15})
    assert sandbox.request_counts().get("POST companies", 0) == before + 1
    assert client.stats().retries == 0


def test_threads_starting_together_read_the_request_budget_once() -> None:
    with make_sandbox(latency_ms=60) as sandbox:
        client = make_client(sandbox)
        barrier = threading.Barrier(6)

        def read(entity: str) -> int:
            barrier.wait()
            return client.count(entity)

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(read, ["Invoices", "Companies", "Tickets"] * 2))
        assert client.stats().by_entity["ThresholdInformation"] == 1
        assert sandbox.request_counts().get("GET thresholdinformation") == 1
