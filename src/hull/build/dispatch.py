"""One stage's instructions applied in order: metadata ones to the config, and RUN, COPY,
ADD and WORKDIR as filesystem steps — each either taken from the cache (its key: the state
before it and what it reads) or run on a fresh snapshot and stored as one layer. A step
whose run changed nothing adds no layer (BuildKit drops empty layers; history says
empty_layer)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile

from hull.build import copystep, metadata, runstep
from hull.build.cache import key_of
from hull.build.errors import BuildError
from hull.build.frontend import instructions as ins
from hull.build.layers import step_fs, view
from hull.build.state import Layer, history_entry, now
from hull.errors import HullError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from hull.build.builder import Builder
    from hull.build.context import Context
    from hull.build.layers import StepFS
    from hull.build.state import State

FS_STEPS = (ins.RunCommand, ins.CopyCommand, ins.WorkdirCommand)
MANIFEST_LIMIT = 100_000   # source paths remembered per COPY: which changed, and reuse


def is_fs_step(cmd: ins.Command) -> bool:
    return isinstance(cmd, FS_STEPS)


class StageRun:
    def __init__(self, builder: Builder, index: int, state: State, total: int) -> None:
        self.b = builder
        self.index = index
        self.state = state
        self.total = total
        self.step = 1

    def x(self, text: str, cmd: ins.Command) -> str:
        return self.b.expander.word(self.state, text, cmd)

    def trigger(self, text: str) -> None:
        """An ONBUILD trigger of the base image, run as if written after FROM."""
        from hull.build.frontend.parser import parse
        for node in parse(text).nodes:
            self.apply(ins.parse_instruction(node), trigger=True)

    def apply(self, cmd: ins.Command, trigger: bool = False) -> None:
        if isinstance(cmd, ins.ArgCommand):
            self.b.used_args.update(name for name, _ in cmd.args)
        if isinstance(cmd, ins.RunCommand):
            self._run(cmd, trigger)
        elif isinstance(cmd, ins.CopyCommand):
            self._copy(cmd, trigger)
        elif isinstance(cmd, ins.WorkdirCommand):
            self._workdir(cmd, trigger)
        else:
            metadata.apply(cmd, self.state, self.b.expander, self.b.opts.build_args,
                           self.b.meta)

    # ---- the common path of a filesystem step --------------------------------------------

    def _fs_step(self, cmd: ins.Command, description: str, created_by: str,
                 inputs: dict[str, Any], action: Callable[[StepFS, int], None],
                 trigger: bool) -> None:
        if not trigger:
            self.step += 1
        label = self.b._label(self.index, self.step, self.total) if not trigger \
            else "[onbuild]"
        v = self.b.next_vertex(f"{label} {description}")
        state = self.state
        key = key_of(state.key, inputs)
        original = f"{self.b.scope}:{self.index} {cmd.original}"
        why = "--no-cache"
        if not self.b.opts.no_cache:
            entry, damaged = self.b.cache.get(key)
            if entry is not None:
                self._take(key, entry.result, created_by)
                self.b.progress.cached(v)
                return
            full = {**inputs, "base": state.base, "base_name": state.base_name,
                    "meta": state.meta}
            found = self.b.cache_sources.match(state, key, created_by,
                                               by_history=inputs.get("op") == "RUN" and
                                               not inputs.get("mounts") and
                                               not inputs.get("script"))
            if found is not None:
                self._take_source(key, found, created_by, original, description, full)
                self.b.progress.note(v, f"from --cache-from {found[0]}")
                self.b.progress.cached(v)
                return
            why = damaged or self.b.cache.why_missed(state.key, original, full)
        self.b.progress.note(v, f"cache miss: {why}")
        with step_fs(self.b.images, state.chain) as fs:
            try:
                action(fs, v)
            except BuildError as e:
                if not e.line:
                    e = BuildError(e.message, cmd.line)
                self.b.progress.error(v, e.message)
                raise e from None
            except (HullError, OSError) as e:   # named with the instruction's line
                error = BuildError(str(e) if isinstance(e, HullError) else
                                   f"{e.strerror or e}: {e.filename or ''}", cmd.line)
                self.b.progress.error(v, error.message)
                raise error from None
            if not fs.changed():
                result: dict[str, Any] = {"empty": True, "created": now()}
                size = 0
            else:
                layer, size = fs.commit(self.b.lease)
                result = {"chain": layer.chain, "diff_id": layer.diff_id,
                          "layer": layer.descriptor, "created": now()}
        full = {**inputs, "base": state.base, "base_name": state.base_name,
                "meta": state.meta}
        self.b.cache.put(key, state.key, original, description, full, result, size)
        self._take(key, result, created_by)
        self.b.progress.done(v)

    def _take_source(self, key: str, found: tuple[str, Layer | None], created_by: str,
                     original: str, description: str, inputs: dict[str, Any]) -> None:
        """A --cache-from image's layer as this step's result, kept in the cache too."""
        layer = found[1]
        result: dict[str, Any] = {"empty": True, "created": now()} if layer is None else \
            {"chain": layer.chain, "diff_id": layer.diff_id, "layer": layer.descriptor,
             "created": now()}
        size = 0 if layer is None else self.b.images.snapshotter.usage(layer.chain).size
        self.b.cache.put(key, self.state.key, original, description, inputs, result, size)
        self._take(key, result, created_by)

    def _take(self, key: str, result: dict[str, Any], created_by: str) -> None:
        """A step's result into the state; its history entry has the time the step ran
        (on a hit: when it first ran), so a build taken wholly from the cache makes the
        same image, with the same ID, as Docker's builders do."""
        created = str(result.get("created") or now())
        if result.get("empty"):
            self.state.history.append({**history_entry(created_by, empty=True),
                                       "created": created})
            self.state.step_keys.append(key)
            self.state.key = key
            self.state.meta = []
            return
        layer = Layer(result["chain"], result["diff_id"], result["layer"])
        self.b.images.lease(self.b.lease, [(layer.chain, layer.descriptor["digest"])])
        self.state.add_layer(key, layer, created_by, created)

    # ---- WORKDIR ---------------------------------------------------------------------------

    def _workdir(self, cmd: ins.WorkdirCommand, trigger: bool) -> None:
        path = metadata.workdir_path(self.state, cmd, self.b.expander)
        self.state.config["WorkingDir"] = path
        user = self.state.config.get("User") or ""

        def mkdir(fs: StepFS, _v: int) -> None:
            from hull.linux import fs as linuxfs
            root = os.open(fs.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                try:
                    fd = linuxfs.open_in_root(root, path, os.O_PATH | os.O_DIRECTORY)
                except FileNotFoundError:
                    fd = linuxfs.mkdir_all_in_root(root, path)
                except NotADirectoryError:
                    raise BuildError(f"WORKDIR {path}: not a directory", cmd.line) from None
                os.close(fd)
            finally:
                os.close(root)
        self._fs_step(cmd, f"WORKDIR {path}", f"WORKDIR {path}",
                      {"op": "WORKDIR", "path": path, "user": user}, mkdir, trigger)

    # ---- RUN -------------------------------------------------------------------------------

    def _run_args(self, cmd: ins.RunCommand) -> tuple[list[str], str]:
        """RUN's argv, and a heredoc script to run as a file ("" when none). A heredoc is
        never expanded here: the shell does that (BuildKit ignores the quoting of RUN's
        delimiters too). RUN <<EOF alone is the script; with a #! line it runs as an
        executable (at /dev/pipes/NAME, as in BuildKit); otherwise the shell gets the
        command line followed by the heredocs' bodies and reads them itself."""
        if not cmd.prepend_shell:
            return list(cmd.args), ""
        line = " ".join(cmd.args)
        docs = cmd.heredocs
        if len(docs) == 1 and line.strip().startswith("<<") and \
                line.strip().lstrip("<-").strip("'\"") == docs[0].name:
            if docs[0].content.startswith("#!"):
                return [f"/dev/pipes/{docs[0].name}"], docs[0].content
            return [*self.state.shell(), docs[0].content], ""
        if docs:
            line += "\n" + "".join(d.content + d.name + "\n" for d in docs)
        return [*self.state.shell(), line], ""

    def _run(self, cmd: ins.RunCommand, trigger: bool) -> None:
        state = self.state
        args, script = self._run_args(cmd)
        # RUN --network=default is the build's own --network
        network = cmd.network if cmd.network not in ("", "default") else self.b.opts.network
        if network not in ("default", "none", "host"):
            raise BuildError(f"unsupported network mode {network!r}", cmd.line)
        mounts = [runstep.parse_mount(self.x(m, cmd), cmd.line) for m in cmd.mounts]
        for m in mounts:   # a relative target is under WORKDIR ("": a secret env= only)
            if m.target:
                m.target = os.path.normpath(os.path.join(
                    state.config.get("WorkingDir") or "/", m.target))
        build_args = {k: v for k, v in state.args.items() if v is not None}
        inputs = {"op": "RUN", "args": args, "env": state.run_env(),
                  "user": state.config.get("User") or "",
                  "cwd": state.config.get("WorkingDir") or "/", "network": network,
                  "mounts": [self._mount_key(m) for m in mounts],
                  "volumes": sorted(state.config.get("Volumes") or {}),
                  "build_args": build_args, "script": script,
                  "hosts": self.b.opts.add_hosts, "shm": self.b.opts.shm_size,
                  "ulimits": self.b.opts.ulimits}
        created_by = metadata.run_created_by(state, args, build_args)
        shown = " ".join(cmd.args) if cmd.prepend_shell else json.dumps(cmd.args)

        def execute(fs: StepFS, v: int) -> None:
            from hull.build.steps import StepSpec
            tail: list[bytes] = []

            def output(data: bytes) -> None:
                tail.append(data)
                del tail[:-20]
                self.b.progress.log(v, data)
            with runstep.mounts_for(self.b.scratch, os.path.join(self.b.images.root, "build",
                                                                 "cache-mounts"),
                                    self.b.opts.secrets, self._mount_source) as made:
                oci = made.oci(mounts, sorted(state.config.get("Volumes") or {}), fs.rootfs)
                if script:
                    oci.append(made.script(args[0], script))
                spec = StepSpec(fs.rootfs, args,
                                state.run_env() + self.b.proxy_env(state) + made.env,
                                user=state.config.get("User") or "",
                                cwd=state.config.get("WorkingDir") or "/",
                                network=network, mounts=oci,
                                extra_hosts=self.b.opts.add_hosts,
                                shm_size=self.b.opts.shm_size, ulimits=self.b.opts.ulimits,
                                cgroup_parent=self.b.opts.cgroup_parent)
                code = runstep.run(self.b.runner, spec, output)
            if code != 0:
                raise BuildError(f"process \"{' '.join(args)}\" did not complete "
                                 f"successfully: exit code: {code}", cmd.line)
        self._fs_step(cmd, f"RUN {shown}", created_by, inputs, execute, trigger)

    def _mount_key(self, m: runstep.MountSpec) -> dict[str, Any]:
        key = m.key()
        if m.kind == "bind":
            ref = m.options.get("from", "")
            if not ref:
                context_dir_of(self.b.context)
                assert self.b.context is not None
                source = os.path.normpath("/" + m.options.get("source", "")).lstrip("/")
                key["content"] = self.b.context.checksum(self.b.context.resolve(source or "."))
            else:
                key["content"] = self._source_state_key(ref)
        return key

    def _source_state_key(self, ref: str) -> str:
        stage = self.b._stage_named(ref)
        if stage is not None and stage < self.index:
            return self.b.built[stage].key
        return self.b.image_state(ref).key

    def _mount_source(self, m: runstep.MountSpec, stack: contextlib.ExitStack) -> str:
        """Where a bind mount's tree is: the context (only what .dockerignore lets in,
        as BuildKit sends it), or a read-only view of a stage or image."""
        ref = m.options.get("from", "")
        if ref:
            return stack.enter_context(view(self.b.images, self._view_of(ref)))
        root = context_dir_of(self.b.context)
        assert self.b.context is not None
        if self.b.context.matcher is None:
            return root
        return stack.enter_context(runstep.filtered_copy(self.b.scratch, root,
                                                         self.b.context.ignored))

    # ---- COPY and ADD ----------------------------------------------------------------------

    def _copy(self, cmd: ins.CopyCommand, trigger: bool) -> None:
        from hull.build.context import Tree
        self._stack = contextlib.ExitStack()
        with self._stack:
            state = self.state
            sources = [self.x(s, cmd) for s in cmd.sources]
            dest = self.x(cmd.dest, cmd)
            chown, chmod = self.x(cmd.chown, cmd), self.x(cmd.chmod, cmd)
            from_ = self.x(cmd.from_, cmd) if cmd.from_ else ""
            excludes = [self.x(e, cmd) for e in cmd.excludes]
            inputs: dict[str, Any] = {"op": cmd.name, "sources": sources, "dest": dest,
                                      "chown": chown, "chmod": chmod, "from": from_,
                                      "excludes": excludes, "parents": cmd.parents,
                                      "cwd": state.config.get("WorkingDir") or "/"}
            keep_owner = bool(from_)
            unpack = cmd.is_add and cmd.unpack != "false"   # ADD --unpack=false copies
            context_root = self.b.context.root if self.b.context is not None else None
            if cmd.heredocs:
                root, names = self._stack.enter_context(copystep.heredoc_tree(
                    cmd, lambda text: self.b.lexer.expand_heredoc(text, state.env())[0]))
                resolved, wildcard = names, False
                inputs["source_key"] = _tree_digest(root)
                unpack = False
            elif cmd.is_add and any(copystep.is_url(s) for s in sources):
                root, resolved = self._fetch(cmd, sources)
                wildcard = False
                inputs["source_key"] = _tree_digest(root)
                unpack = False
            elif from_:
                root = self._enter(self._view_of(from_))
                resolved, wildcard = copystep.resolve(Tree(root), sources, cmd.line,
                                                      cmd.parents)
                inputs["source_key"] = self._source_state_key(from_)
            else:
                root = context_dir_of(self.b.context)
                assert self.b.context is not None
                resolved, wildcard = copystep.resolve(self.b.context, sources, cmd.line,
                                                      cmd.parents)
                checked = [r.replace("/./", "/") for r in resolved]
                inputs["source_key"] = self.b.context.checksum(checked)
                manifest = self.b.context.manifest(checked)
                if len(manifest) <= MANIFEST_LIMIT:
                    inputs["files"] = manifest
            full_dest, is_dir = copystep.destination(cmd, dest, state, len(resolved),
                                                     wildcard)
            shown = " ".join([*(f"--{k}={v}" for k, v in (("from", from_), ("chown", chown),
                                                          ("chmod", chmod)) if v),
                              *(sources or [d.name for d in cmd.heredocs]), dest])
            created_by = f"{cmd.name} {shown} # buildkit"

            ignored = self.b.context.ignored \
                if self.b.context is not None and root == context_root else None

            reusable = self._reusable(cmd, inputs, resolved, root == context_root)

            def execute(fs: StepFS, _v: int) -> None:
                if reusable is not None and self._copy_changes(fs, reusable, full_dest,
                                                               resolved[0], inputs):
                    return
                copystep.copy_step(fs.rootfs, root, resolved, full_dest, is_dir, cmd, chown,
                                   chmod, keep_owner, unpack, excludes, ignored)
            self._fs_step(cmd, f"{cmd.name} {shown}", created_by, inputs, execute, trigger)

    def _reusable(self, cmd: ins.CopyCommand, inputs: dict[str, Any], resolved: list[str],
                  from_context: bool) -> dict[str, Any] | None:
        """The previous entry of this COPY when its layer can be the start of this one
        (reuse.py): one directory from the context, no flags that change what is written,
        everything but the files the same."""
        if not from_context or len(resolved) != 1 or cmd.parents or cmd.is_add or \
                "files" not in inputs or self.b.opts.no_cache:
            return None
        if inputs["chown"] or inputs["chmod"] or inputs["excludes"]:
            return None
        assert self.b.context is not None
        if not os.path.isdir(os.path.join(self.b.context.root, resolved[0])):
            return None
        old, result = self.b.cache.previous(self.state.key,
                                            f"{self.b.scope}:{self.index} {cmd.original}")
        same = ("op", "sources", "dest", "from", "parents", "cwd")
        if not result.get("chain") or "files" not in old or \
                any(old.get(k) != inputs.get(k) for k in same) or \
                not self.b.images.snapshotter.exists(str(result["chain"])):
            return None
        return {"files": old["files"], "chain": result["chain"]}

    def _copy_changes(self, fs: StepFS, previous: dict[str, Any], dest: str, source: str,
                      inputs: dict[str, Any]) -> bool:
        """The COPY as the previous layer plus what changed (reuse.py); False when that
        cannot be done (the snapshot is then as it was: empty and mounted)."""
        from hull.build import reuse
        from hull.build.copying import copy_into
        assert self.b.context is not None
        context = self.b.context
        upper = self.b.images.snapshotter.upper_dir(fs.key)
        prev = self.b.images.snapshotter.upper_dir(str(previous["chain"]))
        fs.unmount()
        try:
            written, removed = reuse.changes(
                previous["files"], inputs["files"],
                lambda p: os.path.isfile(os.path.join(context.root, p)) and
                not os.path.islink(os.path.join(context.root, p)))
            reuse.relink(prev, upper)
            reuse.apply_changes(upper, dest, context.root, source, written, removed,
                                lambda src, dst: copy_into(upper, context.root, [src], dst,
                                                           dest_is_dir=False, owner=None,
                                                           mode=None, keep_owner=False))
            return True
        except (reuse.CannotReuse, OSError, BuildError):
            for name in os.listdir(upper):
                import shutil
                path = os.path.join(upper, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            fs.mount()
            return False

    def _fetch(self, cmd: ins.CopyCommand, sources: list[str]) -> tuple[str, list[str]]:
        from hull.build.fetching import fetch_url
        tmp = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="hull-add-"))
        names = []
        for url in sources:
            if not copystep.is_url(url):
                raise BuildError("ADD cannot mix URLs and local sources in hull", cmd.line)
            path, mtime = fetch_url(url, tmp, checksum=getattr(cmd, "checksum", ""))
            if mtime:
                os.utime(path, (mtime, mtime))
            names.append(os.path.relpath(path, tmp))
        return tmp, names

    def _view_of(self, ref: str) -> str | None:
        """The chain of a stage or image that COPY --from / --mount from= reads."""
        stage = self.b._stage_named(ref)
        if stage is not None and stage < self.index:
            return self.b.built[stage].chain
        if stage is not None:
            raise BuildError(f"stage {ref!r} is not built before this one")
        return self.b.image_state(ref).chain

    def _enter(self, chain: str | None) -> str:
        return self._stack.enter_context(view(self.b.images, chain))


def context_dir_of(context: Context | None) -> str:
    if context is None:
        raise BuildError("this build has no context (the Dockerfile came from stdin): "
                         "COPY and ADD can only use URLs, heredocs and other stages")
    return str(context.root)


def _tree_digest(root: str) -> str:
    h = hashlib.sha256()
    for top, dirs, files, _ in os.fwalk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(top, name)
            h.update(os.path.relpath(path, root).encode() + b"\0")
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    return "sha256:" + h.hexdigest()


