"""The shell commands and Python snippets of README.md and docs/ run as written.

Every fenced ```bash and ```python block of README.md and docs/**/*.md runs, in document order,
in a scratch copy of the repository's configs, tools, benchmarks and docs (so nothing in the
repository changes), with these adaptations:

- ``pip install`` commands are left out (the suite runs in an installed environment), and so is
  ``python -m pytest`` (this suite itself);
- ``tools/train.py`` and ``tools/test.py`` on a ``*_synthetic.py`` config get ``--cfg-options``
  that shrink the synthetic data to a few images (``SHRINK_DATA``) and, for training, the run to
  two iterations (``SHORTEN_TRAINING``); any other config needs data and must be skipped;
- a checkpoint path ``work_dirs/<config name>/<file>.pth`` (a shell glob included) that does not
  exist is replaced by the best checkpoint of a shortened training run of
  ``configs/<config name>.py`` (the run is made when needed);
- the Python blocks of one file share one interpreter, as in a notebook.

A block that cannot run here is marked in the markdown by a comment right before its fence,
``<!-- docs-test: skip (the reason) -->``; a skip without a reason is an error. Each line of a
shell block runs on its own from the scratch copy's root; a line with shell syntax other than
``&&`` (a redirection, a pipe, a here-document) runs with bash as written, and may therefore not
start python, pip or torchrun, whose commands must stay adaptable.
"""
import glob
import json
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MARKDOWN = ['README.md'] + sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'docs', '**', '*.md'), recursive=True))
COPIED = ('configs', 'tools', 'benchmarks', 'docs', 'README.md')
SHELL = ('bash', 'sh', 'shell')
TIMEOUT_S = 600

SHRINK_DATA = [
    'synthetic_data.refer.num_train=4', 'synthetic_data.refer.num_val=2',
    'synthetic_data.refer.num_test=3', 'synthetic_data.describe.num_train=2',
    'synthetic_data.describe.num_val=2', 'synthetic_data.describe.num_test=2'
]
SHORTEN_TRAINING = [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
    'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2'
]

FENCE = re.compile(r'^(\s*)```\s*([\w+-]*)\s*$')
DIRECTIVE = re.compile(r'<!--\s*docs-test:(.*?)-->')
SKIP = re.compile(r'^\s*skip\s*\((.*\S.*)\)\s*$')
CHECKPOINT = re.compile(r'work_dirs/([\w.-]+)/[\w.*?-]*\.pth')
SENTINEL = '@@docs-test-block-done@@'


@dataclass
class Block:
    path: str  # relative to the repository
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    skip: Optional[str]  # the reason, or None

    @property
    def where(self) -> str:
        return f'{self.path}:{self.line}'


def parse_blocks(path: str) -> List[Block]:
    """The fenced blocks of a markdown file, each with the skip reason of the directive right
    before it. Raises ValueError for a directive that is not ``skip (reason)`` or that does not
    stand right before a fence."""
    with open(osp.join(REPO, path), encoding='utf-8') as f:
        lines = f.read().splitlines()
    blocks, pending, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        directive = DIRECTIVE.search(line)
        fence = FENCE.match(line)
        if directive:
            if pending is not None:
                raise ValueError(f'{path}:{pending[0]}: docs-test directive not followed by a '
                                 'fenced block')
            reason = SKIP.match(directive.group(1))
            if reason is None:
                raise ValueError(f'{path}:{i + 1}: write the directive as '
                                 f'"<!-- docs-test: skip (reason) -->", got {line.strip()!r}')
            pending = (i + 1, reason.group(1).strip())
        elif fence:
            indent, lang = fence.group(1), fence.group(2).lower()
            body, j = [], i + 1
            while j < len(lines) and not re.match(rf'^{indent}```\s*$', lines[j]):
                body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
                j += 1
            if j == len(lines):
                raise ValueError(f'{path}:{i + 1}: unclosed code fence')
            blocks.append(Block(path, i + 1, lang, '\n'.join(body) + '\n',
                                pending[1] if pending else None))
            pending, i = None, j
        elif line.strip() and pending is not None:
            raise ValueError(f'{path}:{pending[0]}: docs-test directive not followed by a fenced '
                             'block')
        i += 1
    if pending is not None:
        raise ValueError(f'{path}:{pending[0]}: docs-test directive not followed by a fenced '
                         'block')
    return blocks


HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
PROGRAMS = ('python', 'pip', 'torchrun')


def shell_commands(code: str, where: str) -> List[Union[List[str], str]]:
    """The commands of a shell block: continuation lines joined, comments dropped, ``a && b``
    split into argument lists. A line with other shell syntax (a redirection, a pipe, a
    here-document with its body) is kept as text, to run with bash as written; it may not
    start python, pip or torchrun, which must stay adaptable."""
    commands: List[Union[List[str], str]] = []
    lines = code.replace('\\\n', ' ').splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        if all(t == '&&' or not set(t) <= set('|&;<>()') for t in tokens):
            command: List[str] = []
            for token in tokens + ['&&']:
                if token != '&&':
                    command.append(token)
                elif command:
                    commands.append(command)
                    command = []
            continue
        if any(t in PROGRAMS for t in tokens):
            raise ValueError(f'{where}: {line!r} runs {"/".join(PROGRAMS)} with shell syntax '
                             'other than &&; split it into plain commands or mark the block '
                             '"docs-test: skip (reason)"')
        heredoc = HEREDOC.search(line)
        if heredoc:
            end = next((k for k in range(i, len(lines)) if lines[k].strip() == heredoc.group(1)),
                       None)
            if end is None:
                raise ValueError(f'{where}: here-document {heredoc.group(1)} is not closed')
            line, i = '\n'.join([line] + lines[i:end + 1]), end + 1
        commands.append(line)
    return commands


def _with_options(command: List[str], options: List[str]) -> List[str]:
    """``command`` with ``options`` added last to its --cfg-options (so that they win)."""
    if '--cfg-options' not in command:
        return command + ['--cfg-options'] + options
    start = command.index('--cfg-options') + 1
    end = next((k for k in range(start, len(command)) if command[k].startswith('--')),
               len(command))
    return command[:end] + options + command[end:]


class Workspace:
    """A scratch copy of the repository in which the documented commands run."""

    def __init__(self, root: str) -> None:
        self.root = root
        for name in COPIED:
            src, dst = osp.join(REPO, name), osp.join(root, name)
            if osp.isdir(src):
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
            else:
                shutil.copy(src, dst)
        # One intra-op thread: the shortened runs are tiny, and two threads per process on a
        # busy 2-core machine are much slower than one.
        self.env = dict(os.environ, PYTHONUNBUFFERED='1', MPLBACKEND='Agg', OMP_NUM_THREADS='1',
                        PYTHONPATH=os.pathsep.join(
                            p for p in (REPO, os.environ.get('PYTHONPATH')) if p))
        self.done: Dict[tuple, str] = {}

    def run(self, command: List[str], where: str) -> str:
        key = tuple(command)
        if key in self.done:  # the same command ran already in this workspace
            return self.done[key]
        proc = subprocess.run(command, cwd=self.root, env=self.env, capture_output=True,
                              text=True, timeout=TIMEOUT_S)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, (f'{where}: {shlex.join(command)} failed '
                                      f'({proc.returncode}):\n{out[-4000:]}')
        self.done[key] = out
        return out

    def adapt(self, command: List[str], where: str) -> Optional[List[str]]:
        """The command to run for a documented one, or None for one that is left out."""
        if command[0] == 'pip' and command[1:2] == ['install']:
            return None
        if command[0] != 'python':
            return [self.expand(self.checkpoint(token), where) for token in command]
        if command[1:3] == ['-m', 'pytest']:
            return None  # this suite
        command = [sys.executable] + [self.checkpoint(token) for token in command[1:]]
        if command[1] in ('tools/train.py', 'tools/test.py'):
            if not command[2].endswith('_synthetic.py'):
                raise ValueError(f'{where}: {command[1]} {command[2]} needs a real dataset; mark '
                                 'the block "docs-test: skip (reason)"')
            extra = SHRINK_DATA + (SHORTEN_TRAINING if command[1] == 'tools/train.py' else [])
            command = _with_options(command, extra)
        return [self.expand(token, where) for token in command]

    def train(self, name: str) -> None:
        config = f'configs/{name}.py'
        self.run(self.adapt(['python', 'tools/train.py', config], config), config)

    def checkpoint(self, text: str) -> str:
        """``text`` with each checkpoint path that does not exist replaced by the best
        checkpoint of a shortened run of its config (paths of other names are left alone:
        a snippet may write them itself)."""

        def best(match: re.Match) -> str:
            name = match.group(1)
            if (glob.glob(osp.join(self.root, match.group(0)))
                    or not osp.isfile(osp.join(self.root, 'configs', f'{name}.py'))):
                return match.group(0)
            pattern = f'work_dirs/{name}/best_mDice_iter_*.pth'
            if not glob.glob(osp.join(self.root, pattern)):
                self.train(name)
            found = sorted(glob.glob(osp.join(self.root, pattern)))
            assert found, f'training configs/{name}.py wrote no {pattern}'
            return osp.relpath(found[-1], self.root)

        return CHECKPOINT.sub(best, text)

    def expand(self, token: str, where: str) -> str:
        """A path with shell wildcards -> the one file it matches."""
        if '/' not in token or not any(c in token for c in '*?'):
            return token
        found = sorted(glob.glob(osp.join(self.root, token)))
        assert len(found) == 1, f'{where}: {token} matches {len(found)} files, not one'
        return osp.relpath(found[0], self.root)


WORKER = r'''
import json, sys, traceback
namespace = {'__name__': '__main__'}
for request in sys.stdin:
    block = json.loads(request)
    try:
        exec(compile(block['code'], block['where'], 'exec'), namespace)
        status = 'ok'
    except BaseException:
        traceback.print_exc()
        status = 'error'
    sys.stderr.flush()
    print('\n' + SENTINEL + status, flush=True)
'''.replace('SENTINEL', repr(SENTINEL))


class PythonSession:
    """One interpreter that runs the Python blocks of a file in turn, in one namespace."""

    def __init__(self, workspace: Workspace) -> None:
        self.proc = subprocess.Popen([sys.executable, '-u', '-c', WORKER], cwd=workspace.root,
                                     env=workspace.env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def run(self, code: str, where: str) -> str:
        timer = threading.Timer(TIMEOUT_S, self.proc.kill)
        timer.start()
        try:
            self.proc.stdin.write(json.dumps(dict(code=code, where=where)) + '\n')
            self.proc.stdin.flush()
            out = []
            for line in self.proc.stdout:
                if line.startswith(SENTINEL):
                    status = line[len(SENTINEL):].strip()
                    break
                out.append(line)
            else:
                status = 'killed or crashed'
        finally:
            timer.cancel()
        text = ''.join(out)
        assert status == 'ok', f'{where}: the Python block failed ({status}):\n{text[-4000:]}'
        return text

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    # Removed afterwards: the documented commands write checkpoints and ONNX files of a few
    # hundred MB, and pytest keeps the temporary folders of the last three sessions.
    root = str(tmp_path_factory.mktemp('docs'))
    yield Workspace(root)
    shutil.rmtree(root, ignore_errors=True)


def test_markdown_files_found():
    assert 'README.md' in MARKDOWN and 'docs/get_started.md' in MARKDOWN


def test_every_skip_has_a_reason():
    # parse_blocks raises for a directive without a reason or away from a fence
    skipped = [b for path in MARKDOWN for b in parse_blocks(path) if b.skip is not None]
    assert all(len(b.skip) >= 3 for b in skipped), [b.where for b in skipped]


def test_parsing_and_shell_rules():
    assert shell_commands('pip install -e . && python tools/train.py c.py  # a comment\n',
                          'x') == [['pip', 'install', '-e', '.'],
                                   ['python', 'tools/train.py', 'c.py']]
    assert shell_commands('python a.py \\\n  --cfg-options a=1 "b=two words"\n', 'x') == [
        ['python', 'a.py', '--cfg-options', 'a=1', 'b=two words']]
    assert shell_commands("mkdir -p d\ncat > d/a.csv <<'EOF'\nx,y\nEOF\nls d\n", 'x') == [
        ['mkdir', '-p', 'd'], "cat > d/a.csv <<'EOF'\nx,y\nEOF", ['ls', 'd']]
    with pytest.raises(ValueError, match='shell syntax other than &&'):
        shell_commands('python a.py | tee log\n', 'x')
    assert _with_options(['t.py', '--cfg-options', 'a=1', '--work-dir', 'w'], ['b=2']) == [
        't.py', '--cfg-options', 'a=1', 'b=2', '--work-dir', 'w']


@pytest.mark.parametrize('path', MARKDOWN)
def test_documented_commands_run(path, workspace):
    runnable = [b for b in parse_blocks(path) if b.lang in SHELL + ('python', ) and not b.skip]
    if not runnable:
        pytest.skip(f'{path} has no runnable block')
    session = None
    try:
        for block in runnable:
            if block.lang == 'python':
                session = session or PythonSession(workspace)
                session.run(workspace.checkpoint(block.code), block.where)
                continue
            for command in shell_commands(block.code, block.where):
                if isinstance(command, str):  # shell syntax: bash runs it as written
                    workspace.run(['bash', '-e', '-c', workspace.checkpoint(command)],
                                  block.where)
                    continue
                adapted = workspace.adapt(command, block.where)
                if adapted is not None:
                    workspace.run(adapted, block.where)
    finally:
        if session is not None:
            session.close()
