# Copyright 2026 vitedge_ros developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Figures of the metrics: how every PNG of a report is finished and written (atomically)."""

from pathlib import Path
from typing import Any, Union

__all__ = ['save_figure']


def save_figure(
    fig: Any, ax: Any, path: Union[str, Path], title: str = '', legend_loc: str = 'best'
) -> None:
    """
    Put grid, legend and title on ``ax``, then write ``fig`` to the PNG ``path``.

    The file is written atomically (temp file + rename).
    """
    ax.grid(True, alpha=0.3)
    ax.legend(loc=legend_loc, fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    tmp = Path(path).with_name('.' + Path(path).name + '.tmp.png')
    fig.savefig(str(tmp))
    tmp.replace(path)
