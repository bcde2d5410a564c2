"""A real SMTP server for the tests (aiosmtpd, pinned in tests/requirements.txt).

Run by tests/console.rs as `python3 tests/smtp_sink.py PORT`: listens on 127.0.0.1:PORT, prints
"smtp listening on PORT" once it accepts connections, then one JSON line on stdout for each
message it receives: the envelope (mail_from, rcpt_tos), the From, To and Subject headers, the
decoded text body and the raw message. Ends when killed.
"""

import email
import email.policy
import json
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        print(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "from": str(message["From"]),
                    "to": str(message["To"]),
                    "subject": str(message["Subject"]),
                    "body": body.get_content() if body is not None else "",
                    "raw": raw.decode("utf-8", "replace"),
                }
            ),
            flush=True,
        )
        return "250 Message accepted"


def main():
    port = int(sys.argv[1])
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"smtp listening on {port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
