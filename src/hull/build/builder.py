"""The builder: a Dockerfile's stages, the ones the target needs, built in dependency order,
each instruction applied to the stage's state — metadata instructions to its config, RUN,
COPY, ADD and WORKDIR as one layer each (the seeds' model), taken from the cache when a step
with the same key ran before — and the target's state written as an image.

    parse ─► stages ─► needed by target ─► for each: FROM ─► ONBUILD triggers ─► steps
                                                          └► image config + layers ─► tags
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hull.build import metadata
from hull.build.cache import BuildCache, key_of
from hull.build.errors import BuildError
from hull.build.frontend import instructions as ins
from hull.build.frontend.parser import parse
from hull.build.frontend.shell import Lexer
from hull.build.options import PREDEFINED_ARGS, BuildOptions
from hull.build.state import DEFAULT_PATH, Layer, State

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from hull.build.context import Context
    from hull.build.progress import Progress
    from hull.build.steps import StepRunner
    from hull.image.store import Image, ImageStore

    ResolveImage = Callable[[str, bool], Image]
    Reopen = Callable[[], tuple[ImageStore, StepRunner, Context | None, ResolveImage]]


@dataclass
class Result:
    image_id: str
    state: State
    warnings: list[str] = field(default_factory=list)


class Builder:
    def __init__(self, images: ImageStore, runner: StepRunner, progress: Progress,
                 resolve_image: ResolveImage, context: Context | None,
                 reopen: Reopen | None = None) -> None:
        """reopen: fresh stores, runner and context for a forked child (None: stages are
        built one after the other)."""
        self.reopen = reopen
        self._abandoned: list[object] = []
        self._images_seen: dict[str, State] = {}
        self.images = images
        self.runner = runner
        self.progress = progress
        self.resolve_image = resolve_image
        self.context = context
        self.cache = BuildCache(images)
        self.vertex = 0
        self.built: dict[int, State] = {}
        self.used_args: set[str] = set()

    def reopen_after_fork(self, progress: Progress) -> None:
        """In a child building one stage: connections of its own. The inherited ones are
        kept referenced, never used nor closed (closing runs SQLite code on them)."""
        assert self.reopen is not None
        self._abandoned += [self.images, self.runner, self.context, self.cache]
        self.images, self.runner, self.context, self.resolve_image = self.reopen()
        self.cache = BuildCache(self.images)
        self.progress = progress

    def next_vertex(self, name: str) -> int:
        self.vertex += 1
        self.progress.start(self.vertex, name)
        return self.vertex

    # ---- the whole build -----------------------------------------------------------------

    def build(self, opts: BuildOptions) -> Result:
        import secrets
        import shutil
        self.scratch = os.path.join(self.images.root, "build", "tmp",
                                    f"{os.getpid()}-{secrets.token_hex(4)}")
        self.lease = f"build-running:{os.path.basename(self.scratch)}"
        try:
            return self._build(opts)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.images.release([self.lease])

    def _build(self, opts: BuildOptions) -> Result:
        self.opts = opts
        # why-missed compares a step with what this project's build made before
        self.scope = key_of(opts.context_dir or "-", opts.dockerfile_name)[7:23]
        v = self.next_vertex(f"[internal] load build definition from {opts.dockerfile_name}")
        parsed = parse(opts.dockerfile)
        for warning in parsed.warnings:
            self.progress.warn(warning)
        self.lexer = Lexer(parsed.escape)
        self.expander = metadata.Expander(self.lexer)
        stages, meta_args = ins.parse_stages(parsed)
        if not stages:
            raise BuildError("the Dockerfile has no FROM instruction (no build stage)")
        self.progress.done(v)
        self.stages = stages
        seen: set[str] = set()
        for stage in stages:
            if stage.name and stage.name in seen:
                raise BuildError(f'duplicate stage name "{stage.name}"', stage.line)
            seen.add(stage.name)
        from hull.build.cachefrom import CacheSources
        self.cache_sources = CacheSources(self.images, opts.cache_from, self.progress)
        self.meta = self._meta_args(meta_args)
        target = self._target_index(opts.target)
        order = self._needed(target)
        from hull.build import parallel
        for wave in parallel.waves(order, {i: self._deps(i) for i in order}):
            if len(wave) > 1 and self.reopen is not None:
                parallel.build_wave(self, wave)
            else:
                for index in wave:
                    self.built[index] = self.build_stage(index)
        final = self.built[target]
        image_id = self._export(final)
        warnings = self._unused_args()
        for w in warnings:
            self.progress.warn(w)
        return Result(image_id, final, warnings)

    def _meta_args(self, meta_args: list[ins.ArgCommand]) -> dict[str, str | None]:
        """The ARGs before the first FROM (FROM lines may use them) and the platform ARGs
        BuildKit predefines."""
        p = self.opts.platform
        plat = f"{p.get('os', 'linux')}/{p.get('architecture', 'amd64')}" + \
            (f"/{p['variant']}" if p.get("variant") else "")
        env: dict[str, str | None] = {}
        for prefix in ("BUILD", "TARGET"):
            env.update({f"{prefix}PLATFORM": plat, f"{prefix}OS": p.get("os", "linux"),
                        f"{prefix}ARCH": p.get("architecture", "amd64"),
                        f"{prefix}VARIANT": p.get("variant", "")})
        for cmd in meta_args:
            for name, default in cmd.args:
                self.used_args.add(name)
                if name in self.opts.build_args:
                    env[name] = self.opts.build_args[name]
                elif default is not None:
                    known = {k: v for k, v in env.items() if v is not None}
                    env[name] = self.lexer.process_word(default, known)
                else:
                    env[name] = None
        return env

    def _stage_named(self, name: str) -> int | None:
        for i, stage in enumerate(self.stages):
            if stage.name and stage.name == name.lower():
                return i
        if name.isdigit() and int(name) < len(self.stages):
            return int(name)
        return None

    def _target_index(self, target: str) -> int:
        if not target:
            return len(self.stages) - 1
        index = self._stage_named(target)
        if index is None:
            raise BuildError(f'target stage "{target}" could not be found')
        return index

    def _expand_meta(self, text: str) -> str:
        return self.lexer.process_word(text, {k: v for k, v in self.meta.items()
                                              if v is not None})

    def _base_of(self, index: int) -> str:
        return self._expand_meta(self.stages[index].base)

    def _deps(self, index: int) -> list[int]:
        """The stages stage `index` reads: its FROM, COPY --from, RUN --mount from=."""
        out = []
        base = self._stage_named(self._base_of(index))
        if base is not None and base < index:
            out.append(base)
        for cmd in self.stages[index].commands:
            refs = []
            if isinstance(cmd, ins.CopyCommand) and cmd.from_:
                refs.append(cmd.from_)
            if isinstance(cmd, ins.RunCommand):
                for text in cmd.mounts:
                    for item in text.split(","):
                        k, _, v = item.partition("=")
                        if k.strip() == "from":
                            refs.append(v)
            for ref in refs:
                dep = self._stage_named(self._expand_meta(ref))
                if dep is not None and dep < index and dep not in out:
                    out.append(dep)
        return out

    def _needed(self, target: int) -> list[int]:
        order: list[int] = []

        def visit(i: int) -> None:
            if i in order:
                return
            for dep in self._deps(i):
                visit(dep)
            order.append(i)
        visit(target)
        return order

    # ---- one stage -------------------------------------------------------------------------

    def _label(self, index: int, step: int, total: int) -> str:
        stage = self.stages[index]
        if len(self.stages) == 1:
            return f"[{step}/{total}]"
        return f"[{stage.name or f'stage-{index}'} {step}/{total}]"

    def build_stage(self, index: int) -> State:
        from hull.build import dispatch
        stage = self.stages[index]
        fs_steps = [c for c in stage.commands if dispatch.is_fs_step(c)]
        total = len(fs_steps) + 1
        base = self._base_of(index)
        self._check_platform(index)
        v = self.next_vertex(f"{self._label(index, 1, total)} FROM {base}")
        state = self._from(base, index)
        if not any(e.startswith("PATH=") for e in state.env_list()):
            # as BuildKit (and the classic builder, at commit): a stage without PATH gets
            # the default one, in its config and for expanding $PATH
            state.config["Env"] = [f"PATH={DEFAULT_PATH}", *state.env_list()]
        self.progress.done(v)
        runner = dispatch.StageRun(self, index, state, total)
        for trigger in list(state.config.get("OnBuild") or []):
            runner.trigger(trigger)
        state.config.pop("OnBuild", None)
        for cmd in stage.commands:
            runner.apply(cmd)
        return runner.state

    def _check_platform(self, index: int) -> None:
        """FROM --platform=…: this machine's platform (BUILDPLATFORM/TARGETPLATFORM name it)
        or nothing; hull does not emulate other architectures."""
        stage = self.stages[index]
        if not stage.platform:
            return
        wanted = self._expand_meta(stage.platform)
        mine = str(self.meta.get("TARGETPLATFORM"))
        arch = self.opts.platform.get("architecture", "amd64")
        if wanted not in (mine, f"linux/{arch}", arch):
            raise BuildError(f"FROM --platform={wanted}: hull builds for this machine's "
                             f"platform only ({mine})", stage.line)

    def _from(self, base: str, index: int) -> State:
        if base == "scratch":
            return State(key_of("scratch", self.opts.platform), platform=dict(self.opts.platform))
        stage = self._stage_named(base)
        if stage is not None and stage < index:
            state = self.built[stage].copy()
            state.args = {}
            state.cmd_set = False
            return state
        return self.image_state(base)

    def proxy_env(self, state: State) -> list[str]:
        """The proxy build-args (HTTP_PROXY, …) that RUN sees without an ARG, as in
        Docker; like Docker, they stay out of the history and the cache key."""
        from hull.build.options import PREDEFINED_ARGS
        return [f"{k}={v}" for k, v in self.opts.build_args.items()
                if k in PREDEFINED_ARGS and k not in state.args]

    def image_state(self, name: str) -> State:
        """The state an image starts (FROM, COPY --from, RUN --mount from=); looked up
        (with --pull: pulled) once per build."""
        if name not in self._images_seen:
            self._images_seen[name] = self._image_state(name)
        return self._images_seen[name].copy()

    def _image_state(self, name: str) -> State:
        from hull.image.manifest import chain_ids
        image = self.resolve_image(name, self.opts.pull)
        config = self.images.config(image)
        diff_ids = self.images.diff_ids(image)
        manifest = self.images.manifest_of(image)
        from hull.image import manifest as mf
        oci = {"application/vnd.docker.image.rootfs.diff.tar.gzip": mf.OCI_LAYER_GZIP}
        layers = [Layer(chain, diff, {"mediaType": oci.get(d.media_type, d.media_type),
                                      "digest": d.digest, "size": d.size})
                  for chain, diff, d in zip(chain_ids(diff_ids), diff_ids, manifest.layers,
                                            strict=True)]
        platform = {"architecture": str(config.get("architecture", "amd64")),
                    "os": str(config.get("os", "linux")),
                    **({"variant": str(config["variant"])} if config.get("variant") else {})}
        self.images.lease(self.lease, [(layer.chain, layer.descriptor["digest"])
                                       for layer in layers])   # held until the build ends
        history = list(config.get("history") or [])
        from hull.build.state import CACHE_KEYS
        keys = list(config.get(CACHE_KEYS) or [])
        if len(keys) != len(history):
            keys = [None] * len(history)
        return State(key_of("image", image.id), layers, dict(config.get("config") or {}),
                     history, platform, image.id, name, step_keys=keys)

    # ---- the image -----------------------------------------------------------------------

    def _export(self, state: State) -> str:
        from hull import fastjson
        from hull.build.state import image_config
        from hull.image import manifest as mf
        v = self.next_vertex("exporting to image")
        if self.opts.labels:
            state.config["Labels"] = {**(state.config.get("Labels") or {}),
                                      **self.opts.labels}
        config = image_config(state)
        config_bytes = fastjson.dumps(config).encode()
        config_digest = self.images.content.add(config_bytes)
        manifest = {"schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
                    "config": {"mediaType": mf.OCI_CONFIG, "digest": config_digest,
                               "size": len(config_bytes)},
                    "layers": [layer.descriptor for layer in state.layers]}
        digest = self.images.content.add(fastjson.dumps(manifest).encode())
        image = self.images.add(digest, None)
        self.progress.note(v, f"writing image {image.id} done")
        from hull.image.reference import parse as parse_ref
        for tag in self.opts.tags:
            ref = parse_ref(tag)
            self.images.tag(image.id, ref)
            self.progress.note(v, f"naming to {ref} done")
        self.progress.done(v)
        return image.id

    def _unused_args(self) -> list[str]:
        unused = sorted(name for name in self.opts.build_args
                        if name not in self.used_args and name not in PREDEFINED_ARGS)
        if not unused:
            return []
        return [f"One or more build-args [{' '.join(unused)}] were not consumed"]
