"""One change bus: every screen learns from it that money moved or data changed.

Payments, refunds, postings and the sync announce what changed here — the dialog or
controller that finished the work, on the GUI thread — and every open screen refreshes from
it, keeping its selection and scroll position (``STYLE.md``, "refresh precisely"). Ids are
the changed rows where they are known; an empty list means "some, refresh what you show".

One bus per application, made on the GUI thread by :meth:`app.gui.context.AppContext.changes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QTimer, Signal, SignalInstance, Slot

__all__ = ["ChangeBus", "RefreshOnChange"]


class ChangeBus(QObject):
    #: Payment ids taken, refunded, voided, settled or recovered.
    paymentsChanged = Signal(list)
    #: Invoice ids whose balance or status changed (payments, refunds, the sync).
    invoicesChanged = Signal(list)
    #: Payment ids whose postings were delivered, failed, retried or dismissed.
    postingsChanged = Signal(list)
    #: A sync finished (its result object); organizations, invoices and tickets may differ.
    #: Screens that list synced rows follow the sync controller's precise ``rows_changed``;
    #: the others refresh on this.
    syncFinished = Signal(object)
    #: The connected payment gateway was opened again (at start, after Setup): read
    #: ``context.services.gateway`` / ``gateway_missing``.
    gatewayChanged = Signal()

    def announce_payments(self, payment_ids: Iterable[int],
                          invoice_ids: Iterable[int] = ()) -> None:
        """Money moved: these payments, and the invoices they touched (none named: any may
        have changed). Screens of invoices follow ``invoicesChanged`` alone."""
        self.paymentsChanged.emit(list(payment_ids))
        self.invoicesChanged.emit(list(invoice_ids))

    def announce_postings(self, payment_ids: Iterable[int]) -> None:
        self.postingsChanged.emit(list(payment_ids))

    def announce_sync(self, result: object) -> None:
        self.syncFinished.emit(result)


class RefreshOnChange(QObject):
    """Calls ``refresh(ids)`` once, shortly after any of the bus signals it follows fired,
    with the union of the ids announced meanwhile — an empty list when one announcement did
    not name its rows (refresh everything shown). Several announcements in a row make one
    refresh. Lives as long as its parent screen; runs on the GUI thread."""

    def __init__(self, parent: QObject, refresh: Callable[[list[int]], object],
                 *signals: SignalInstance, delay_ms: int = 50) -> None:
        super().__init__(parent)
        self._refresh = refresh
        self._ids: set[int] = set()
        self._everything = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._fire)
        for signal in signals:
            signal.connect(self.trigger)

    @Slot(object)
    def trigger(self, ids: object = None) -> None:
        if isinstance(ids, list) and ids:
            self._ids.update(int(i) for i in ids)
        else:
            self._everything = True
        self._timer.start()

    @Slot()
    def _fire(self) -> None:
        ids = [] if self._everything else sorted(self._ids)
        self._ids.clear()
        self._everything = False
        self._refresh(ids)
