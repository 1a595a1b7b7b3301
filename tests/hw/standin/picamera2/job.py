"""picamera2.job stand-in: a list of functions run on the event loop until each returns done."""

from concurrent.futures import CancelledError, Future


class Job:
    def __init__(self, functions, signal_function=None):
        self._functions = list(functions)
        self._signal_function = signal_function
        self._future = Future()
        self._future.set_running_or_notify_cancel()
        self._result = None

    def execute(self):
        while self._functions:
            try:
                done, result = self._functions[0]()
            except Exception as error:
                self._future.set_exception(error)
                self._functions = []
                return True
            if not done:
                return False
            self._result = result
            self._functions.pop(0)
        return True

    def signal(self):
        # as picamera2: the result is set here, after the event loop has left its lock
        if not self._future.done():
            self._future.set_result(self._result)
        if self._signal_function:
            self._signal_function(self)

    def get_result(self, timeout=None):
        return self._future.result(timeout=timeout)

    def cancel(self):
        self._future.set_exception(CancelledError())
