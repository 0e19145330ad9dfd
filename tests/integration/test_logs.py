"""Each program's log lines, as it writes them: JSON with zap's field names, or text when asked."""

from __future__ import annotations

import json
import re
import signal

from tests.support import Proc, dataplane_cmd, free_port, start_pod


def output_of(proc: Proc) -> str:
    """Everything the process wrote (each log record is flushed as it is written), once killed."""
    proc.signal(signal.SIGKILL)
    proc.wait(10)
    out = proc.output()
    proc.stop()
    return out


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_the_autoscaler_logs_json_with_zaps_fields(tmp_path):
    port = free_port()
    env = {"METRICS_DIALECT": "otel", "LOG_LEVEL": "", "LOG_FORMAT": ""}
    proc = Proc(dataplane_cmd("autoscaler", "--bind", "127.0.0.1", "--port", str(port), "--directory", "http://127.0.0.1:9/d"), env, port)
    (doc,) = [d for d in json_lines(output_of(proc)) if "METRICS_DIALECT" in d["msg"]]
    assert {"level", "ts", "logger", "caller", "msg"} <= set(doc)
    assert (doc["level"], doc["logger"]) == ("warn", "dataplane.autoscaler")
    assert doc["msg"] == "METRICS_DIALECT (metrics-dialect): must be one of opencensus, opentelemetry, got 'otel'; serving opencensus"


def test_the_queue_proxy_takes_its_log_settings_from_the_environment():
    pod = start_pod(LOG_LEVEL="loud")
    out = output_of(pod.qp)
    pod.stop()
    (doc,) = json_lines(out)
    assert (doc["level"], doc["logger"]) == ("warn", "dataplane.queueproxy")
    assert doc["msg"].startswith("LOG_LEVEL: must be one of debug, info, warn, error")


def test_the_activator_logs_text_when_asked():
    port, metrics = free_port(), free_port()
    cmd = dataplane_cmd("activator", "--bind", "127.0.0.1", "--port", str(port), "--metrics-port", str(metrics),
                        "--directory", "http://127.0.0.1:9/d", "--drain-delay", "0", "--log-format", "text")  # fmt: skip
    proc = Proc(cmd, {"METRICS_DIALECT": "otel"}, port)
    out = output_of(proc)
    assert not json_lines(out)
    assert re.search(r"^\S+ \S+ WARNING dataplane\.activator: METRICS_DIALECT \(metrics-dialect\): must be one of", out, re.M)


def test_a_bad_log_flag_stops_the_program_naming_it():
    proc = Proc(dataplane_cmd("autoscaler", "--directory", "http://127.0.0.1:9/d", "--log-level", "loud"))
    assert proc.wait(20) == 2
    assert "--log-level: must be one of debug, info, warn, error" in proc.output()
    proc.stop()
