"""Wrapped text that gets the height it needs: a label that asks its layout for the height of its text
at its width (WrappedLabel), and a scroll area whose page gets the height its text needs at the width
it has, and scrolls down (WrappingScrollArea). Qt sizes a wrapped label for one width and a page in a
scroll area without height-for-width: at 1024x700 both cut lines of text."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QWidget


class WrappingScrollArea(QScrollArea):
    """A scroll area for a page of wrapped text. Qt does not pass a layout's height-for-width up through
    a scroll area, so a page narrower than its text squeezed each wrapped label to one line, drawn over
    the next; here the page is given the height its text needs at the width it has, and scrolls.

    With ``sideways=False`` the page never scrolls sideways: the area asks its splitter or layout for
    the page's minimum width (and a vertical scroll bar's), and asks again when the page's minimum
    grows (a longer row shown later), so no part of the page is ever cut at the area's right edge.

    With ``squeeze=True`` the page gets the area's height, down to its layout's minimum height, not its
    preferred one: for a page whose wrapped labels are WrappedLabels (their minimum is the height of their
    text), with a box that gives way (a text editor) taking the height left; it scrolls only when even
    that does not fit. (A resizable scroll area gives a page with height-for-width its preferred height:
    the area places this page itself.)"""

    def __init__(self, page: QWidget, parent: QWidget | None = None, sideways: bool = True,
                 squeeze: bool = False):
        super().__init__(parent)
        self._sideways = sideways
        self._squeeze = squeeze
        self._min_width = 0  # the page's minimum width when last asked (sideways=False)
        self.setWidget(page)
        self.setWidgetResizable(not squeeze)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if sideways
                                          else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        page.installEventFilter(self)
        if squeeze:
            self.viewport().installEventFilter(self)  # a vertical scroll bar shown or hidden: another width

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.widget() and event.type() == QEvent.Type.LayoutRequest) or \
                (watched is self.viewport() and event.type() == QEvent.Type.Resize):
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
        if self._squeeze:
            size = QSize(width, max(self.viewport().height(), layout.totalMinimumSize().height()))
            if size != page.size():
                page.resize(size)
            return
        needed = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else layout.totalMinimumSize().height()
        if needed != page.minimumHeight():
            page.setMinimumHeight(needed)


class WrappedLabel(QLabel):
    """A word-wrapped label that asks its layout for the height its text needs at its width. A plain
    one asks for one line, and in a splitter (the run's sentence under the plots at 1024x700) the
    rest of the sentence was cut."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(text, parent)
        self.setWordWrap(True)
        self._asked = 0

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        if self.width() > 0:
            hint.setHeight(max(hint.height(), self.heightForWidth(self.width())))
        return hint

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        needed = self.heightForWidth(self.width())
        if needed != self._asked:  # a new width needs another height: lay out again
            self._asked = needed
            self.updateGeometry()

    def setText(self, text: str) -> None:
        super().setText(text)
        self._asked = 0
        self.updateGeometry()
