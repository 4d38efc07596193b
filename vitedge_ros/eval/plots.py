"""Figures of the metrics: how every PNG of a report is finished and written (atomically)."""
from pathlib import Path
from typing import Any, Union

__all__ = ['save_figure']


def save_figure(fig: Any, ax: Any, path: Union[str, Path], title: str = '', legend_loc: str = 'best') -> None:
    """Grid, legend and title on ``ax``, then write ``fig`` to the PNG ``path`` atomically (temp file + rename)."""
    ax.grid(True, alpha=0.3)
    ax.legend(loc=legend_loc, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    tmp = Path(path).with_name('.' + Path(path).name + '.tmp.png')
    fig.savefig(str(tmp))
    tmp.replace(path)
