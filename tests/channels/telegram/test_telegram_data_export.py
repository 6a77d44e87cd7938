"""The personal-data export reaches a Telegram customer as a JSON file (``sendDocument``), after its summary.

The assistant's ``action_export_my_data`` (actions/privacy.py) answers with a summary text and
``json_message={"data_export": {"filename", "data"}}``, which Rasa's REST channel returns as ``custom``.
"""

from __future__ import annotations

import json
from typing import Any

from bot.channels.telegram import rendering
from tests.channels.telegram.conftest import journal_rows
from tests.fakes.rasa_stub import RasaRequest, RasaStub
from tests.fakes.telegram_api import FakeTelegramAPI

EXPORT = {
    "exported_at": "2026-11-24T10:00:00+00:00",
    "customer": {"customer_number": "C000123", "full_name": "Ayşe Yılmaz", "city": "İzmir"},
    "orders": [{"order_number": "SP1234567", "status": "kargoda", "total": "349.90"}],
    "tickets": [],
}
SUMMARY = "Hakkınızda sakladığımız verilerin bir kopyasını hazırladım. Özet:\n• Siparişler: 1"


def _export_script(request: RasaRequest) -> list[dict[str, Any]]:
    if request.message == "verilerimi indir":
        return [{"text": SUMMARY}, {"custom": {"data_export": {"filename": "memnun-C000123.json", "data": EXPORT}}}]
    return [{"text": f"echo: {request.message}"}]


async def test_data_export_is_sent_as_a_json_document_after_the_summary(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: RasaStub
) -> None:
    rasa.script = _export_script
    user = telegram_api.user(7101, "Ayşe", "tr")
    await start_connector()
    telegram_api.enqueue_text(user, "verilerimi indir")
    summary, document = await telegram_api.wait_for_messages(7101, 2)
    await telegram_api.wait_for(lambda: journal_rows()[0].status == "replied", message="journal done")

    assert summary.text == SUMMARY and summary.document is None
    assert document.document is not None and document.text is None
    assert document.document.filename == "memnun-C000123.json"
    content = document.document.content.decode("utf-8")
    assert json.loads(content) == EXPORT
    assert "Ayşe Yılmaz" in content and "İzmir" in content  # readable, not \\u-escaped
    [upload] = telegram_api.calls_of("sendDocument", 7101)
    assert upload.status == 200
    # Neither the JSON as text nor anything else went out.
    assert [c.params.get("text") for c in telegram_api.calls_of("sendMessage", 7101)] == [summary.raw_text]
    # The export is not kept in the journal once delivered.
    [row] = journal_rows()
    assert row.replies is None and row.payload is None


def test_export_file_name_is_safe_and_always_json() -> None:
    [part] = rendering.render([{"custom": {"data_export": {"filename": "../../etc/pass wd", "data": {"a": 1}}}}])
    assert part.kind == "document" and part.document is not None
    assert part.document.filename == "etc-pass-wd.json"
    assert json.loads(part.document.content) == {"a": 1}
    [unnamed] = rendering.render([{"custom": {"data_export": {"data": {}}}}])
    assert unnamed.document is not None and unnamed.document.filename == "memnun-data.json"
