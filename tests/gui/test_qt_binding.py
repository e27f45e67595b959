"""Guards against a broken Qt binding: PySide6 6.12.0 loses a reference to True/False on every
Signal(object) emit and aborts the interpreter after a few thousand, i.e. during one epoch."""

import sys

from PySide6.QtCore import QObject, Signal, Slot


class Emitter(QObject):
    value = Signal(object)
    text = Signal(str)


class Receiver(QObject):
    @Slot(object)
    def on_value(self, value):
        pass


def test_emitting_many_signals_keeps_singleton_refcounts(qapp):
    emitter, receiver = Emitter(), Receiver()
    emitter.value.connect(receiver.on_value)
    emitter.text.connect(lambda s: None)
    before = [sys.getrefcount(x) for x in (None, True, False)]
    for i in range(3000):  # enough to show a leak without risking the abort itself
        emitter.value.emit(i)
        emitter.text.emit("x")
    after = [sys.getrefcount(x) for x in (None, True, False)]
    assert [a - b for a, b in zip(after, before)] == [0, 0, 0]
