#!/usr/bin/env python3
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

"""
Rewrites for the ament linters' default configurations (issue 17).

Used by tools/dev/reformat_ament.sh.

    python tools/dev/ament_fix.py headers [--holder NAME] [--year YYYY] PATH...
    python tools/dev/ament_fix.py wrap [--width 99] PATH...
    python tools/dev/ament_fix.py imperative PATH...
    python tools/dev/ament_fix.py e203 PATH...
    python tools/dev/ament_fix.py classnl PATH...
    python tools/dev/ament_fix.py summaries [--width 99] PATH...
    python tools/dev/ament_fix.py sections PATH...
    python tools/dev/ament_fix.py configs

``headers``: the copyright notice and Apache-2.0 header of ament_copyright's
template/apache2_header.txt (ament/ament_lint, humble) at the top of every Python file that has
none (after a shebang or coding line), as ``ament_copyright --add-missing`` writes it; setup.py
beside package.xml is skipped, as ament_copyright does.

``wrap``: what ruff format leaves over the line limit (ament_flake8: 99) is prose, rewritten
without changing what the program does: full-line comments wrapped at word boundaries with the same
``#`` prefix; over-long docstring lines (module, class, function; found with ``ast``) wrapped with
their own indentation (a bullet's continuation under its text; code-like and table lines left
alone); string literals inside brackets split at a space into adjacent literals (joined by the
compiler, so ``.format``/``%`` still apply to the whole) at the literal's column, f-strings outside
their fields only. The result must still parse, else the file is kept.

``imperative``: pydocstyle's D401 (ament_pep257 checks it): a summary starting with a noun phrase
(The/A/An) becomes "Return the/a/an ..."; a third-person verb takes the form pydocstyle suggests
("perhaps 'Build'").

``e203``: pycodestyle's E203 (ament_flake8 does not ignore it) in slices ruff format writes as
``x[a + 1:]``.

``summaries``: an over-long docstring summary (pep257 wants it on one line) cut at its first ': ',
'; ' or ' -- ' outside brackets and backticks, else before a closing parenthesis of 30 characters
or more (its content becomes a sentence), else at its last ', ' that fits: the part before, with a
period, stays the summary; the rest becomes the first line of the description (a one-line docstring
becomes a multi-line one, summary on the second line). What no rule cuts is left for a person.

``sections``: a Google-style section header (``Raises:``, ``Returns:``...) that pydocstyle also
knows as a numpy section is checked by the numpy rules when no convention is set (ament_pep257):
written ``Raises`` over a dashed underline (D406, D407).

``classnl``: flake8-class-newline's CNL100 (a plugin the ROS 2 docs install): a blank line after a
class statement that a method or decorator follows directly.

``configs``: ruff.toml, setup.cfg ``[flake8]``/``[pydocstyle]`` switched to the ament defaults
(line length 99), and test/test_copyright.py's template skip removed (once the headers are in).

Each command prints one line saying what it changed.
"""

import argparse
import ast
import io
from pathlib import Path
import re
import subprocess
import sys
import textwrap
import tokenize
from typing import Callable, Dict, Iterable, List, Optional, Tuple


def _python_files(paths: Iterable[str]) -> List[Path]:
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += [
                f
                for f in sorted(p.rglob('*.py'))
                if not any(
                    part.startswith(('.', '_')) and part != '__init__.py'
                    for part in f.relative_to(p).parts
                )
            ]
        elif p.suffix == '.py':
            out.append(p)
    return out


def _docstring_lines(tree: ast.AST, lines: List[str]) -> Tuple[set, set]:
    """
    1-based line numbers inside docstrings (module, classes, functions).

    And those of their summaries.
    """
    out, summaries = set(), set()
    for node in ast.walk(tree):
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
        ):
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                out.update(range(first.lineno, first.end_lineno + 1))
                for row in range(first.lineno, first.end_lineno + 1):
                    if lines[row - 1].strip().strip('rRuU').strip('"\'').strip():
                        summaries.add(row)  # the summary stays one line (pep257 D205, D400)
                        break
    return out, summaries


BULLET = re.compile(r'^([-*] |\d+\. |[A-Za-z_][\w.]* ?(\([^)]*\))?: )')


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(' '))


def _prose(line: str) -> bool:
    body = line.strip()
    return bool(body) and not (
        body.startswith(('>>>', '...', '|', '+-', '"""', "'''", 'r"""', '.. '))
        or body.endswith(('::', '"""', "'''"))
        or '|' in body
        or re.fullmatch(r'[-=~^]{3,}', body)
    )


def _hang(line: str) -> int:
    """Indentation of a paragraph's continuation lines when ``line`` starts it (bullets hang)."""
    m = BULLET.match(line.strip())
    if not m:
        return _indent(line)
    return _indent(line) + (len(m.group(1)) if m.group(1)[0] in '-*0123456789' else 4)


def _paragraph(
    lines: List[str], row: int, doc_lines: set, summaries: set
) -> Optional[Tuple[int, int, int]]:
    """
    Locate the docstring paragraph holding the 1-based ``row``.

    Returns (first row, last row, continuation indent), or None.
    """

    def ok(r: int) -> bool:
        return (
            1 <= r <= len(lines) and r in doc_lines and r not in summaries and _prose(lines[r - 1])
        )

    if not ok(row):
        return None
    text = [ln.rstrip('\r\n') for ln in lines]
    first = row
    if not BULLET.match(text[row - 1].strip()):
        while (
            ok(first - 1)
            and _indent(text[first - 2]) == _indent(text[row - 1])
            and not BULLET.match(text[first - 2].strip())
        ):
            first -= 1
        if (
            ok(first - 1)
            and BULLET.match(text[first - 2].strip())
            and _hang(text[first - 2]) == _indent(text[row - 1])
        ):
            first -= 1
    hang = _hang(text[first - 1])
    last = row
    while ok(last + 1) and _indent(text[last]) == hang and not BULLET.match(text[last].strip()):
        last += 1
    return first, last, hang


def _reflow(block: List[str], hang: int, width: int) -> Optional[List[str]]:
    """
    Return the lines of a prose paragraph refilled to ``width``.

    First line's indent, then ``hang``.
    """
    indent = _indent(block[0])
    words = ' '.join(ln.strip() for ln in block)
    if width - max(indent, hang) < 30:
        return None
    first = textwrap.wrap(
        words, width=width - indent, break_long_words=False, break_on_hyphens=False
    )
    if not first:
        return None
    skip = len(first[0])
    rest = textwrap.wrap(
        words[skip:].strip(),
        width=width - hang,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [' ' * indent + first[0]] + [' ' * hang + r for r in rest]


def _wrap_comment(line: str, width: int) -> Optional[List[str]]:
    m = re.match(r'^(\s*#+:?\s?)(.*)$', line)
    if (
        not m
        or not m.group(2).strip()
        or m.group(2).lstrip().startswith(('noqa', 'type:', 'pragma'))
    ):
        return None
    prefix, body = m.group(1), m.group(2)
    if len(prefix) + 30 > width or 'http' in body and len(body.split()) == 1:
        return None
    parts = textwrap.wrap(
        body, width=width - len(prefix), break_long_words=False, break_on_hyphens=False
    )
    return [prefix + p for p in parts] if len(parts) > 1 else None


def _split_points(body: str, is_f: bool) -> List[int]:
    """
    Indexes in a literal's body after which it may be split.

    After a space, outside f-string fields.
    """
    out, depth, i = [], 0, 0
    while i < len(body):
        ch = body[i]
        if is_f and ch in '{}':
            if i + 1 < len(body) and body[i + 1] == ch:
                i += 2
                continue
            depth += 1 if ch == '{' else -1
        elif ch == ' ' and depth == 0 and (i == 0 or body[i - 1] != '\\'):
            out.append(i + 1)
        i += 1
    return out


def _split_string(token: str, col: int, width: int) -> Optional[List[str]]:
    """
    Pieces of a one-line string literal at column ``col``, each line within ``width``.

    Or None.
    """
    m = re.match(r'^([rRbBuUfF]{0,2})(\'|")(.*)\2$', token, re.S)
    if not m or token.startswith(('"""', "'''")):
        return None
    prefix, quote, body = m.groups()
    is_f = 'f' in prefix.lower()
    pieces, room = [], width - col - len(prefix) - 2
    while len(body) > room:
        cuts = [c for c in _split_points(body, is_f) if 8 <= c <= room]
        if not cuts:
            return None
        cut = cuts[-1]
        pieces.append(body[:cut])
        body = body[cut:]
    pieces.append(body)
    if len(pieces) < 2:
        return None
    return [prefix + quote + p + quote for p in pieces]


def wrap_source(src: str, width: int) -> Tuple[str, int]:
    """Rewrap over-long lines of ``src``; return (new source, number of long lines rewritten)."""
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return src, 0
    lines = src.splitlines(keepends=True)
    doc_lines, summaries = _docstring_lines(tree, lines)
    long_lines = {i + 1 for i, ln in enumerate(lines) if len(ln.rstrip('\r\n')) > width}
    if not long_lines:
        return src, 0
    replace: Dict[int, List[str]] = {}
    depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.OP and tok.string in '([{':
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ')]}':
            depth -= 1
        row = tok.start[0]
        if row not in long_lines or row in replace:
            continue
        text = lines[row - 1].rstrip('\r\n')
        if tok.type == tokenize.COMMENT and text.lstrip().startswith('#'):
            new = _wrap_comment(text, width)
            if new:
                replace[row] = new
        elif (
            tok.type == tokenize.STRING
            and tok.start[0] == tok.end[0]
            and depth > 0
            and row not in doc_lines
            and tok.end[1] > width
        ):
            pieces = _split_string(tok.string, tok.start[1], width)
            if pieces:
                head, tail = text[: tok.start[1]], text[tok.end[1]:]
                pad = ' ' * tok.start[1]
                replace[row] = (
                    [head + pieces[0]]
                    + [pad + p for p in pieces[1:-1]]
                    + [pad + pieces[-1] + tail]
                )
    done = set()
    for row in sorted((long_lines & doc_lines) - summaries):
        if row in replace or row in done:
            continue
        span = _paragraph(lines, row, doc_lines, summaries)
        if span is None:
            continue
        first, last, hang = span
        new = _reflow([lines[r - 1].rstrip('\r\n') for r in range(first, last + 1)], hang, width)
        if new is None:
            continue
        replace[first] = new
        for r in range(first + 1, last + 1):
            replace[r] = []
        done.update(range(first, last + 1))
    if not replace:
        return src, 0
    out = []
    for i, ln in enumerate(lines, 1):
        if i in replace:
            out += [x + '\n' for x in replace[i]]
        else:
            out.append(ln)
    new_src = ''.join(out)
    try:
        ast.parse(new_src)
    except SyntaxError:
        return src, 0
    return new_src, len(replace)


def _rewrite(
    paths: Iterable[str], rewrite: Callable[[str], Tuple[str, int]]
) -> Tuple[int, List[str]]:
    """
    Apply ``rewrite`` (source -> (source, count)) to every Python file.

    Returns (total count, final sources).
    """
    total, sources = 0, []
    for path in _python_files(paths):
        new, n = rewrite(path.read_text(encoding='utf-8'))
        if n:
            path.write_text(new, encoding='utf-8')
            total += n
        sources.append(new)
    return total, sources


def cmd_wrap(args: argparse.Namespace) -> str:
    wrapped, sources = _rewrite(args.paths, lambda src: wrap_source(src, args.width))
    left = sum(1 for src in sources for ln in src.splitlines() if len(ln) > args.width)
    return 'wrap: {} long lines rewritten, {} left over {}'.format(wrapped, left, args.width)


ROOT = Path(__file__).resolve().parents[2]
#: ament_copyright's template/apache2_header.txt (ament/ament_lint, humble) after its {copyright}
#: line.
APACHE2_HEADER = """
Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License."""


def header_text(holder: str, year: int) -> str:
    """Return the comment block ament_copyright --add-missing writes for apache2."""
    lines = ['Copyright {} {}'.format(year, holder)] + APACHE2_HEADER.split('\n')
    return '\n'.join('# ' + ln if ln else '#' for ln in lines) + '\n'


def cmd_headers(args: argparse.Namespace) -> str:
    added = 0
    for path in _python_files(args.paths):
        if path.name == 'setup.py' and (path.parent / 'package.xml').exists():
            continue
        lines = path.read_text(encoding='utf-8').splitlines(keepends=True)
        top = 0
        while top < len(lines) and (
            lines[top].startswith('#!') or re.match(r'^#.*coding[:=]', lines[top])
        ):
            top += 1
        if re.search(r'^#\s*Copyright', ''.join(lines[top:top + 5]), re.M | re.I):
            continue
        rest = lines[top:]
        sep = ['\n'] if rest and rest[0].strip() else []
        lines = lines[:top] + [header_text(args.holder, args.year)] + sep + rest
        path.write_text(''.join(lines), encoding='utf-8')
        added += 1
    return 'headers: added to {} files'.format(added)


IMPERATIVE_ARTICLES = ('The', 'A', 'An')
#: Summaries that state a returned constant (``True when ...``) become ``Return True when ...``.
IMPERATIVE_CONSTANTS = ('True', 'False', 'None')


def cmd_imperative(args: argparse.Namespace) -> str:
    files = [str(p) for p in _python_files(args.paths)]
    proc = subprocess.run(
        [sys.executable, '-m', 'pydocstyle', '--select', 'D401'] + files,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        universal_newlines=True,
    )
    found = re.findall(
        r'^(\S+?):(\d+) .*\n\s+D401: .*?(?:perhaps \'(\w+)\', not \'(\w+)\'|found \'(\w+)\')',
        proc.stdout,
        re.M,
    )
    fixed = 0
    for fname, line, good, bad, word in found:
        path = Path(fname)
        lines = path.read_text(encoding='utf-8').splitlines(keepends=True)
        for i in range(int(line) - 1, min(int(line) + 3, len(lines))):
            m = re.match(r'^(\s*[rRuU]?(?:"""|\'\'\')?\s*)(\w+)(.*)$', lines[i], re.S)
            if not m or not m.group(2):
                continue
            if good and m.group(2) == bad:
                lines[i] = m.group(1) + good + m.group(3)
            elif word and m.group(2) == word and word in IMPERATIVE_ARTICLES:
                lines[i] = m.group(1) + 'Return ' + word.lower() + m.group(3)
            elif word and m.group(2) == word and word in IMPERATIVE_CONSTANTS:
                lines[i] = m.group(1) + 'Return ' + word + m.group(3)
            else:
                continue
            fixed += 1
            break
        path.write_text(''.join(lines), encoding='utf-8')
    return 'imperative: {} of {} D401 summaries rewritten'.format(fixed, len(found))


def cmd_e203(args: argparse.Namespace) -> str:
    fixed = 0
    for path in _python_files(args.paths):
        src = path.read_text(encoding='utf-8')
        out, changed = [], False
        for tok_line in src.splitlines(keepends=True):
            new = tok_line
            for _ in range(8):  # one space per pass; pycodestyle allows it after ',', '(' and '['
                again = re.sub(r'(\[[^\]\'"#]*?[^\s,(\[]) : ?', r'\1:', new)
                if again == new:
                    break
                new = again
            changed |= new != tok_line
            out.append(new)
        if changed:
            new_src = ''.join(out)
            try:
                ast.parse(new_src)
            except SyntaxError:
                continue
            path.write_text(new_src, encoding='utf-8')
            fixed += 1
    return 'e203: {} files'.format(fixed)


def _depth_marks(text: str) -> List[Tuple[int, int]]:
    """(bracket depth, backtick count) before each character of ``text``."""
    out, depth, ticks = [], 0, 0
    for ch in text:
        out.append((depth, ticks))
        if ch in '([{':
            depth += 1
        elif ch in ')]}':
            depth -= 1
        elif ch == '`':
            ticks += 1
    return out


def _summary_cut(text: str, room: int) -> Optional[int]:
    """
    Return where to cut the summary ``text``, within ``room``; None if nowhere.

    The cut is the first ': ', '; ' or ' -- ' outside brackets and backticks.
    """
    marks = _depth_marks(text)
    for i in range(len(text)):
        depth, ticks = marks[i]
        if (
            depth == 0
            and ticks % 2 == 0
            and 20 <= i <= room - 1
            and (
                text.startswith(': ', i)
                or text.startswith('; ', i)
                or text.startswith(' -- ', i)
                or text.startswith(' \u2014 ', i)
            )
        ):
            return i
    return None


def _closing_aside(text: str, room: int) -> Optional[Tuple[str, str]]:
    """
    Split a summary ending in a parenthesis, ``X (Y).``, into ``('X.', 'Y.')``.

    Only when ``X.`` fits in ``room``; otherwise None.
    """
    body = text[:-1] if text.endswith('.') else text
    if not body.endswith(')'):
        return None
    marks = _depth_marks(body)
    for i in range(len(body) - 1, -1, -1):
        if body[i] == '(' and marks[i] == (0, marks[i][1]) and marks[i][1] % 2 == 0:
            if i < 20 or i + 1 > room or not body[i - 1:i] == ' ':
                return None
            head = body[:i].rstrip(' ,') + '.'
            aside = body[i + 1:-1].strip()
            if len(aside) < 30:
                return None
            return head, _capital(aside.rstrip('.') + '.')
    return None


def _comma_cut(text: str, room: int) -> Optional[int]:
    """Index of the last ', ' outside brackets and backticks that leaves a head within ``room``."""
    marks = _depth_marks(text)
    best = None
    for i in range(len(text)):
        depth, ticks = marks[i]
        if depth == 0 and ticks % 2 == 0 and 20 <= i <= room - 1 and text.startswith(', ', i):
            best = i
    return best


def _capital(text: str) -> str:
    """``text`` with its first letter upper case when it starts with a plain lower-case word."""
    if text[:1].islower() and text[1:2].isalpha() and ' ' in text[:12]:
        return text[0].upper() + text[1:]
    return text


def summary_halves(text: str, room: int) -> Optional[Tuple[str, str]]:
    """
    Cut an over-long summary into (summary sentence, rest), or None where no cut fits in ``room``.

    In order: the first ': ' / '; ' / ' -- ' (:func:`_summary_cut`); a closing parenthesis of at
    least 30 characters, whose content becomes the next sentence (a short one, a unit or a shape,
    stays with its noun); the last ', ' that leaves the summary within ``room``.
    """
    cut = _summary_cut(text, room)
    if cut is not None:
        return _halves(text, cut)
    aside = _closing_aside(text, room)
    if aside is not None:
        return aside
    cut = _comma_cut(text, room)
    if cut is not None:
        return _halves(text, cut)
    return None


def split_summaries(src: str, width: int) -> Tuple[str, int]:
    """
    Cut over-long docstring summaries into a summary and a description.

    A summary is cut at its first '. ' or '; '. Returns (new source, count).
    """
    tree = ast.parse(src)
    lines = src.splitlines(keepends=True)
    edits = {}  # first line index -> (last line index, replacement lines)
    for node in ast.walk(tree):
        if not (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
        ):
            continue
        first = node.body[0]
        if not (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            continue
        start, end = first.lineno - 1, first.end_lineno - 1
        if start == end:
            m = re.match(r'^(\s*)([rRuU]?)(\"\"\"|\'\'\')(.*)\3\s*$', lines[start])
            if not m or len(lines[start].rstrip('\n')) <= width:
                continue
            indent, prefix, quote, text = m.groups()
            halves = summary_halves(text, width - len(indent) - 1)
            if halves is None:
                continue
            head, tail = halves
            new = [indent + prefix + quote, indent + head, '', indent + tail, indent + quote]
            edits[start] = (start, [x + '\n' if x else '\n' for x in new])
            continue
        row = next(
            (
                r
                for r in range(start, end + 1)
                if lines[r].strip().lstrip('rRuU').strip('"\'').strip()
            ),
            None,
        )
        if row is None or row == start or len(lines[row].rstrip('\n')) <= width:
            continue  # summaries on the opening line are ruff's (D213) to move first
        indent = lines[row][: len(lines[row]) - len(lines[row].lstrip())]
        text = lines[row].strip()
        if text.endswith(('"""', "'''")):
            continue
        halves = summary_halves(text, width - len(indent) - 1)
        if halves is None:
            continue
        head, tail = halves
        edits[row] = (row, [indent + head + '\n', '\n', indent + tail + '\n'])
    if not edits:
        return src, 0
    out, i = [], 0
    while i < len(lines):
        if i in edits:
            last, new = edits[i]
            out += new
            i = last + 1
        else:
            out.append(lines[i])
            i += 1
    new_src = ''.join(out)
    ast.parse(new_src)
    return new_src, len(edits)


def _halves(text: str, cut: int) -> Tuple[str, str]:
    """
    Cut ``text`` at ``cut`` into a summary sentence and the rest.

    The summary ends with a period; the rest is capitalised.
    """
    head = text[:cut].rstrip(' ,') + '.'
    return head, _capital(text[cut:].lstrip(':;,- \u2014'))


def cmd_summaries(args: argparse.Namespace) -> str:
    count, _ = _rewrite(args.paths, lambda src: split_summaries(src, args.width))
    return 'summaries: {} long docstring summaries cut at their first colon or semicolon'.format(
        count
    )


#: pydocstyle's numpy section names (pydocstyle/checker.py NUMPY_SECTION_NAMES): with no convention
#: set, as ament_pep257 runs it, a docstring with one of these is checked by the numpy rules (D406,
#: D407).
NUMPY_SECTIONS = (
    'Short Summary',
    'Extended Summary',
    'Parameters',
    'Returns',
    'Yields',
    'Other Parameters',
    'Raises',
    'See Also',
    'Notes',
    'References',
    'Examples',
    'Attributes',
    'Methods',
)


#: pydocstyle's Google section names that are not numpy ones: in a docstring with a numpy section
#: the numpy rules apply to them too (D407), elsewhere the Google rules want their colon (D416).
GOOGLE_ONLY = (
    'Args',
    'Arguments',
    'Keyword Args',
    'Keyword Arguments',
    'Return',
    'Yield',
    'Warns',
    'Note',
    'Example',
    'Todo',
    'Warning',
    'Warnings',
)


def cmd_sections(args: argparse.Namespace) -> str:
    """
    Rewrite Google-style ``Raises:`` docstring headers as numpy's ``Raises`` + dashes.

    Fixes pydocstyle D406 and D407.
    """
    fixed = 0
    numpy = re.compile(r'^(\s*)({}):\s*$'.format('|'.join(NUMPY_SECTIONS)))
    either = re.compile(r'^(\s*)({}):\s*$'.format('|'.join(NUMPY_SECTIONS + GOOGLE_ONLY)))
    for path in _python_files(args.paths):
        src = path.read_text(encoding='utf-8')
        lines = src.splitlines(keepends=True)
        convert = set()
        for node in ast.walk(ast.parse(src)):
            body = getattr(node, 'body', None)
            if not (
                isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body
            ):
                continue
            first = body[0]
            if not (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                continue
            rows = [
                r
                for r in range(first.lineno - 1, first.end_lineno)
                if r > 0 and (not lines[r - 1].strip() or lines[r - 1].rstrip()[-1:] in '.,;:')
            ]
            if any(numpy.match(lines[r]) for r in rows):
                convert.update(r for r in rows if either.match(lines[r]))
        if not convert:
            continue
        out = []
        for i, line in enumerate(lines):
            m = either.match(line) if i in convert else None
            if m:
                out += [m.group(1) + m.group(2) + '\n', m.group(1) + '-' * len(m.group(2)) + '\n']
            else:
                out.append(line)
        path.write_text(''.join(out), encoding='utf-8')
        fixed += len(convert)
    return 'sections: {} docstring section headers in numpy form'.format(fixed)


def cmd_classnl(args: argparse.Namespace) -> str:
    """
    Put a blank line between a class statement and a method or decorator.

    flake8-class-newline, CNL100.
    """
    fixed = 0
    for path in _python_files(args.paths):
        lines = path.read_text(encoding='utf-8').splitlines(keepends=True)
        out = []
        for i, line in enumerate(lines):
            out.append(line)
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ''
            if re.match(r'^\s*class \w[^#]*:\s*(#.*)?$', line) and nxt.startswith(
                ('def ', 'async def ', '@')
            ):
                out.append('\n')
                fixed += 1
        if len(out) != len(lines):
            path.write_text(''.join(out), encoding='utf-8')
    return 'classnl: {} classes'.format(fixed)


def _replace_section(text: str, name: str, body: str) -> str:
    """
    ``text`` (an INI file) with section ``[name]``'s lines replaced by ``body``.

    The rest kept verbatim.
    """
    pattern = re.compile(r'^\[{}\]\n.*?(?=^\[|\Z)'.format(re.escape(name)), re.M | re.S)
    block = '[{}]\n{}\n'.format(name, body.rstrip('\n'))
    if pattern.search(text):
        return pattern.sub(lambda m: block + '\n', text, count=1)
    return text.rstrip('\n') + '\n\n' + block


def cmd_configs(args: argparse.Namespace) -> str:
    ruff = ROOT / 'ruff.toml'
    text = ruff.read_text(encoding='utf-8')
    text = re.sub(r'^line-length = \d+', 'line-length = 99', text, flags=re.M)
    extra = (ROOT / 'tools' / 'dev' / 'ruff_ament.toml').read_text(encoding='utf-8')
    for section in ('[format]', '[lint.flake8-quotes]', '[lint.isort]'):
        if section not in text:
            block = extra[extra.index(section):].split('\n[', 1)[0].rstrip()
            text = text.rstrip() + '\n\n' + block + '\n'
    text = re.sub(
        r'^select = \[(.*?)\]',
        lambda m: (
            'select = [{}, "Q", "C4", "A"]'.format(m.group(1))
            if '"Q"' not in m.group(1)
            else m.group(0)
        ),
        text,
        count=1,
        flags=re.M,
    )
    # ament_pep257 wants the summary of a multi-line docstring on its second line (D213, D212
    # ignored)
    text = re.sub(r'^(ignore = \[.*?)"D213", ?', r'\1', text, count=1, flags=re.M | re.S)
    # ruff reads "Raises" + dashes as a Google header missing its colon; pydocstyle's numpy rules
    # want it so
    if '"D416"' not in text:
        text = re.sub(r'^ignore = \[', 'ignore = ["D416", ', text, count=1, flags=re.M)
    ruff.write_text(text, encoding='utf-8')
    ament = (
        (ROOT / 'tools' / 'dev' / 'ament_flake8.ini').read_text(encoding='utf-8').split('\n', 1)[1]
    )
    setup_cfg = ROOT / 'setup.cfg'
    text = setup_cfg.read_text(encoding='utf-8')
    text = _replace_section(
        text, 'flake8', ament.strip() + '\nexclude = .venv,build,install,log,.git,__pycache__\n'
    )
    text = _replace_section(
        text,
        'pydocstyle',
        'ignore = D100,D101,D102,D103,D104,D105,D106,D107,D203,D212,D404\nmatch-dir = [^\\._].*\n',
    )
    setup_cfg.write_text(text, encoding='utf-8')
    test = ROOT / 'test' / 'test_copyright.py'
    src = test.read_text(encoding='utf-8')
    src = re.sub(
        r'^# Remove the `skip` decorator.*\n(#.*\n)*@pytest\.mark\.skip\(.*\)\n',
        '',
        src,
        flags=re.M,
    )
    test.write_text(src, encoding='utf-8')
    return (
        'configs: ruff.toml line-length 99, setup.cfg [flake8]/[pydocstyle] = ament defaults, '
        'copyright test on'
    )


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command (see the module docstring)."""
    import datetime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='cmd')
    for name in ('headers', 'wrap', 'imperative', 'e203', 'classnl', 'summaries', 'sections'):
        p = sub.add_parser(name)
        p.add_argument('paths', nargs='+')
        if name in ('wrap', 'summaries'):
            p.add_argument('--width', type=int, default=99)
        if name == 'headers':
            p.add_argument('--holder', default='vitedge_ros developers')
            p.add_argument('--year', type=int, default=datetime.date.today().year)
    sub.add_parser('configs')
    args = parser.parse_args(argv)
    if not args.cmd:
        parser.error('a command is required')
    print(
        {
            'headers': cmd_headers,
            'wrap': cmd_wrap,
            'imperative': cmd_imperative,
            'e203': cmd_e203,
            'classnl': cmd_classnl,
            'summaries': cmd_summaries,
            'sections': cmd_sections,
            'configs': cmd_configs,
        }[args.cmd](args)
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
