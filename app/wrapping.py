"""A scroll area for a page of wrapped text: the page gets the height its text needs at the width it
has, and scrolls down. Used wherever a column of wrapped labels may be taller than the window gives it
(the Evaluate tab's figures and Why panel, the Train tab's data and form column, the Predict tab's
columns)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QScrollArea, QWidget


class WrappingScrollArea(QScrollArea):
    """A scroll area for a page of wrapped text. Qt does not pass a layout's height-for-width up through
    a scroll area, so a page narrower than its text squeezed each wrapped label to one line, drawn over
    the next; here the page is given the height its text needs at the width it has, and scrolls.

    With ``sideways=False`` the page never scrolls sideways: the area asks its splitter or layout for
    the page's minimum width (and a vertical scroll bar's), and asks again when the page's minimum
    grows (a longer row shown later), so no part of the page is ever cut at the area's right edge."""

    def __init__(self, page: QWidget, parent: QWidget | None = None, sideways: bool = True):
        super().__init__(parent)
        self._sideways = sideways
        self._min_width = 0  # the page's minimum width when last asked (sideways=False)
        self.setWidget(page)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if sideways
                                          else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        page.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._fit()
        return super().eventFilter(watched, event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _page_min_width(self) -> int:
        page = self.widget()
        layout = page.layout() if page is not None else None
        return max(page.minimumWidth(), layout.totalMinimumSize().width()) if layout is not None else 0

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        if not self._sideways:
            margins = self.contentsMargins()
            hint.setWidth(max(hint.width(), self._page_min_width() + self.verticalScrollBar().sizeHint().width()
                              + margins.left() + margins.right()))
        return hint

    def _fit(self) -> None:
        page = self.widget()
        layout = page.layout() if page is not None else None
        if layout is None:
            return
        if not self._sideways and self._page_min_width() != self._min_width:
            self._min_width = self._page_min_width()
            self.updateGeometry()  # the splitter or layout gives the area the page's new minimum width
        width = max(self.viewport().width(), layout.totalMinimumSize().width())
        needed = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.totalMinimumSize().height()
        if needed != page.minimumHeight():
            page.setMinimumHeight(needed)
