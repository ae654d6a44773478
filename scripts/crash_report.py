"""supervisord event listener: says plainly when a ravid process exits unexpectedly or keeps crashing."""
import signal
import sys

from supervisor import childutils


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopping the stack is not a crash
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        event = headers["eventname"]
        fields, _ = childutils.eventdata(payload + "\n")
        name = fields.get("processname", "?")
        if event == "PROCESS_STATE_EXITED" and fields.get("expected") == "0":
            print(f"ravid: '{name}' exited unexpectedly; the supervisor is restarting it.", file=sys.stderr, flush=True)
        elif event == "PROCESS_STATE_FATAL":
            print(f"ravid: '{name}' keeps crashing as it starts and was given up on; the rest of the stack is still "
                  f"running. Its output above says why; fix that, then restart ravid (Ctrl-C, make run).",
                  file=sys.stderr, flush=True)
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()
