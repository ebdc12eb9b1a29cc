"""Grader: a checkpoint that resumes bit for bit, and a training loop that saves and resumes.

Every run is mentor.lab.GPT with dropout 0.1 (so a forgotten RNG state shows), torch.optim.AdamW and a
LambdaLR warm-up + cosine schedule, fed by the given RandomWindows sampler (the reference's copy). The
central test trains 2N steps straight, and N steps, then "crashes": everything is thrown away but the
file, new objects are built from other seeds, every random generator is disturbed, and train() must
resume and run the N remaining steps to the same bits: losses equal, parameters torch.equal. When they
differ, what the learner's load_checkpoint restored is compared with what was saved, piece by piece
(weights, optimizer state, schedule, step, data position, RNG), and the first piece missing is named.
The learner's train runs the reference's train_step, so that this step grades checkpoints alone (your
own train_step is checked by test_your_train_step_agrees).
"""

import io
import math
import os
import random
import traceback

import numpy as np
import pytest
import torch

from mentor.grading.expect import Misconception, expect, expect_close, expect_equal
from mentor.grading.torch_checks import expect_earlier_step_agrees
from mentor.lab import GPT, GPTConfig

# Bound before any learner code runs.
_real_save, _real_load, _equal = torch.save, torch.load, torch.equal
LambdaLR = torch.optim.lr_scheduler.LambdaLR

TINY = dict(vocab_size=61, block_size=16, d_model=32, n_layers=2, n_heads=2)
N = 4  # steps before the crash, and after it
WARMUP, TOTAL = 3, 12  # the schedule: linear warm-up, then a cosine to 0.1 x at step 12
B, T = 4, 16


def warmup_cosine(step):
    """The lr factor of optimizer step `step` (from 0): linear warm-up, cosine down to 0.1, then flat."""
    if step < WARMUP:
        return (step + 1) / WARMUP
    progress = min(1.0, (step - WARMUP) / (TOTAL - WARMUP))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def tokens():
    return torch.randint(0, TINY["vocab_size"], (3000,), generator=torch.Generator().manual_seed(0))


def learner_line(e: BaseException, submission) -> str:
    path = getattr(submission, "__file__", "") or ""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == path]
    return f" (your line {frames[-1].lineno}: `{(frames[-1].line or '').strip()}`)" if frames else ""


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is fastest, and bit-exact comparisons need the same thread count on both sides."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def reference_step(submission, reference, monkeypatch):
    """While a test runs, your train calls the reference's train_step: this step grades the checkpoints."""
    monkeypatch.setattr(submission, "train_step", reference.train_step)


class SimulatedCrash(BaseException):
    """The machine going down in the middle of a run, as the grader raises it from get_batch."""


class SimulatedInterrupt(KeyboardInterrupt):
    """Ctrl-C halfway through writing a checkpoint, as the grader raises it from torch.save."""


# -- the run ------------------------------------------------------------------------------------------
class RecordingAdamW(torch.optim.AdamW):
    """torch.optim.AdamW that notes the lr of every step it takes."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **kwargs)
        self.lrs = []

    def step(self, closure=None):
        self.lrs.append(self.param_groups[0]["lr"])
        return super().step(closure)


def sampler_class(reference):
    class Windows(reference.RandomWindows):
        """The given sampler, noting how many batches it had served before each one; it raises SimulatedCrash
        when asked for batch `crash_at`."""

        crash_at = None

        def get_batch(self, split):
            if self.crash_at is not None and self.served == self.crash_at:
                raise SimulatedCrash()
            self.log.append(self.served)
            return super().get_batch(split)

    return Windows


class World:
    """A model, its optimizer, scheduler and sampler, built from seeds (the same seeds: the same world)."""

    def __init__(self, reference, model_seed, data_seed, device="cpu"):
        torch.manual_seed(model_seed)
        self.model = GPT(GPTConfig(**TINY, dropout=0.1)).to(device)
        self.optimizer = RecordingAdamW(self.model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
        self.scheduler = LambdaLR(self.optimizer, warmup_cosine)
        self.sampler = sampler_class(reference)(tokens(), B, T, seed=data_seed)
        self.sampler.log = []
        self.params = list(self.model.parameters())  # the objects the optimizer holds

    def train_by_hand(self, reference, steps):
        """`steps` steps with the reference's train_step, as train() takes them."""
        self.model.train()
        for _ in range(steps):
            reference.train_step(self.model, self.optimizer, self.sampler.get_batch, 1)
            self.scheduler.step()


def flat_params(model):
    return torch.cat([p.detach().reshape(-1).cpu() for p in model.parameters()])


def optimizer_tensors(optimizer):
    """Every tensor of the optimizer's state, parameter by parameter, in a fixed order."""
    out = []
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            out += [state[k].detach().reshape(-1).cpu().double() for k in sorted(state) if isinstance(state[k], torch.Tensor)]
    return out


def rng_now():
    """The states of the three CPU generators, compared by value."""
    name, key, pos, has_gauss, gauss = np.random.get_state()
    return dict(python=random.getstate(), numpy=(name, key.tolist(), pos, has_gauss, gauss), torch=torch.get_rng_state().clone())


def same_rng(a, b, which):
    return _equal(a[which], b[which]) if which == "torch" else a[which] == b[which]


def disturb(seed):
    """Every global generator somewhere else, as a new process would have them."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def snapshot(w):
    return dict(
        params=flat_params(w.model), optimizer=optimizer_tensors(w.optimizer), epoch=w.scheduler.last_epoch,
        lr=w.optimizer.param_groups[0]["lr"], rng=rng_now(), served=w.sampler.served,
        generator=w.sampler.generator.get_state().clone(),
        same_objects=all(a is b for a, b in zip(w.model.parameters(), w.params))
        and all(a is b for a, b in zip(w.optimizer.param_groups[0]["params"], w.params)),
    )  # fmt: skip


# -- calling the learner's functions ------------------------------------------------------------------
def call(submission, name, *args, **kwargs):
    try:
        return getattr(submission, name)(*args, **kwargs)
    except (NotImplementedError, Misconception, SimulatedCrash, SimulatedInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - a crash reads as what it is, with the learner's line
        raise Misconception(f"{name} raised {type(e).__name__}", f"{type(e).__name__}: {e}{learner_line(e, submission)}") from None


def save(submission, path, w, step, rng=True):
    call(submission, "save_checkpoint", path, w.model, w.optimizer, w.scheduler, step, w.sampler.state_dict(), rng=rng)
    expect(os.path.isfile(path), "save_checkpoint must write the checkpoint to the path it is given", f"no file at {os.path.basename(path)}")


def load(submission, path, w):
    out = call(submission, "load_checkpoint", path, w.model, w.optimizer, w.scheduler)
    expect(
        isinstance(out, tuple) and len(out) == 2,
        "load_checkpoint returns the pair (step, data_state)",
        f"got {type(out).__name__}: {str(out)[:80]}",
    )
    return out


def run_train(module, w, steps, path, every, submission=None):
    if submission is None:
        return module.train(w.model, w.optimizer, w.scheduler, w.sampler, steps, str(path), every)
    losses = call(submission, "train", w.model, w.optimizer, w.scheduler, w.sampler, steps, str(path), every)
    expect(isinstance(losses, list), "train returns the list of the losses of the steps it ran", f"got {type(losses).__name__}")
    return losses


def saved_world(submission, reference, tmp_path, steps=5, rng=True):
    """A world trained `steps` steps, its snapshot, and the path it was saved to. Every generator starts from a
    seed of its own, so that no state fresh() sets can equal the one saved."""
    disturb(1234)
    a = World(reference, 1, 2)
    a.train_by_hand(reference, steps)
    path = str(tmp_path / "ckpt.pt")
    before = rng_now()
    save(submission, path, a, steps, rng=rng)
    return a, dict(snapshot(a), rng_before_save=before), path


def fresh(reference):
    disturb(99)
    return World(reference, 7, 8)


MESSAGES = {
    "weights": "the model's weights were not restored: load the saved model.state_dict() with model.load_state_dict()",
    "assign": (
        "the model's parameters were replaced by new tensors (load_state_dict(..., assign=True), or new Parameters): "
        "the optimizer still holds the old ones, and would step tensors the model no longer uses. Load into the "
        "existing parameters, after the model is on its device"
    ),
    "optimizer": (
        "forgets optimizer state: after loading, AdamW's moments and step counts are not the saved ones, so it starts "
        "again as if from step 1 (bias correction and all). Save optimizer.state_dict() and load it"
    ),
    "schedule": (
        "resume restarts the schedule: the scheduler's state (its last_epoch) was not restored, so the warm-up starts "
        "over. Save scheduler.state_dict() and load it"
    ),
    "torch_rng": (
        "forgets RNG: torch's generator was not restored, so after resuming dropout draws other masks than the "
        "uninterrupted run. Save torch.get_rng_state() and restore it with torch.set_rng_state()"
    ),
    "python_rng": "Python's random was not restored: save random.getstate() and restore it with random.setstate()",
    "numpy_rng": (
        "NumPy's global generator was not restored: save np.random.get_state() (its array as a list) and restore it "
        "with np.random.set_state()"
    ),
    "save_draws": (
        "save_checkpoint drew random numbers (a random temporary name?): the run continues with generators in another "
        "state than the one saved, so a resumed run and the uninterrupted one part ways. Use a fixed temporary name"
    ),
    "data": (
        "resume restarts the data order: the sampler's position (its state_dict) was not restored, so the resumed run "
        "sees other batches than the uninterrupted one. Save data_state and call sampler.load_state_dict() on resume"
    ),
    "replays": (
        "step off by one: the checkpoint's step is one behind the state it holds, so the resumed run repeats a step "
        "(one batch more than the uninterrupted run). Save the number of steps done, after counting the one just taken"
    ),
    "skips": (
        "step off by one: the resumed run skips a step (one batch fewer than the uninterrupted run): the step loaded is "
        "the number of steps done; continue with the next one, without adding 1"
    ),
    "no_resume": (
        "train did not resume from ckpt_path: when the file exists, load it (load_checkpoint, then "
        "sampler.load_state_dict) and continue from its step"
    ),
}


# -- your train_step ----------------------------------------------------------------------------------------
def test_your_train_step_agrees(submission, reference):
    """the train_step train builds on (p4.train.loop) matches the reference's"""

    def run():
        out = []
        for module in (submission, reference):
            w = World(reference, 3, 4)
            torch.manual_seed(5)
            module.train_step(w.model, w.optimizer, w.sampler.get_batch, 2, max_norm=1.0)
            out.append(flat_params(w.model))
        return out

    expect_earlier_step_agrees(
        "train_step", "p4.train.loop", run,
        "Meanwhile the other tests of this step run your train with the reference's train_step.",
        "one step with accum_steps=2, max_norm=1.0, AdamW, dropout 0.1",
    )  # fmt: skip


# -- save and load, piece by piece ------------------------------------------------------------------------------
def test_load_restores_the_model_weights(submission, reference, tmp_path):
    """a fresh model gets the saved weights, into the same parameter objects the optimizer holds"""
    a, at_save, path = saved_world(submission, reference, tmp_path)
    b = fresh(reference)
    load(submission, path, b)
    after = snapshot(b)
    expect(after["same_objects"], MESSAGES["assign"], "after load_checkpoint, model.parameters() are not the optimizer's")
    expect(_equal(after["params"], at_save["params"]), MESSAGES["weights"], "the loaded weights differ from the saved ones")
    expect_close(after["params"], at_save["params"], MESSAGES["weights"], rtol=0, atol=0)


def test_load_restores_the_optimizer_state(submission, reference, tmp_path):
    """AdamW's moments and step counts come back exactly; on a CUDA machine also into a CUDA model, on the device"""
    a, at_save, path = saved_world(submission, reference, tmp_path)
    b = fresh(reference)
    load(submission, path, b)
    got, want = optimizer_tensors(b.optimizer), at_save["optimizer"]
    expect(
        len(got) == len(want) and all(x.shape == y.shape and _equal(x, y) for x, y in zip(got, want)),
        MESSAGES["optimizer"],
        f"the optimizer holds {len(got)} state tensors after loading, {len(want)} were saved"
        + ("" if len(got) != len(want) else ", with other values"),
    )
    expect_close(torch.cat(got), torch.cat(want), MESSAGES["optimizer"], rtol=0, atol=0)
    if torch.cuda.is_available():  # a CPU-only machine checks the CPU checkpoint above
        cuda_checkpoint(submission, reference, tmp_path)


def test_load_restores_the_schedule(submission, reference, tmp_path):
    """the scheduler continues where it stopped: the same last_epoch, the same lr now and after the next step"""
    a, at_save, path = saved_world(submission, reference, tmp_path)
    b = fresh(reference)
    load(submission, path, b)
    expect(
        b.scheduler.last_epoch == at_save["epoch"],
        MESSAGES["schedule"],
        f"after loading, scheduler.last_epoch = {b.scheduler.last_epoch}; it was {at_save['epoch']} at the save",
    )
    expect(
        b.optimizer.param_groups[0]["lr"] == at_save["lr"],
        "the optimizer's lr after loading is not the saved one: optimizer.load_state_dict() restores each group's lr",
        f"lr {b.optimizer.param_groups[0]['lr']:.6g}, saved {at_save['lr']:.6g}",
    )
    b.scheduler.step()
    a.scheduler.step()
    expect_close(b.optimizer.param_groups[0]["lr"], a.optimizer.param_groups[0]["lr"], MESSAGES["schedule"], rtol=0, atol=0)


def test_load_returns_the_step_and_the_data_state(submission, reference, tmp_path):
    """load_checkpoint returns the step saved and the data_state saved, which puts the sampler where it was"""
    a, at_save, path = saved_world(submission, reference, tmp_path)
    b = fresh(reference)
    step, data_state = load(submission, path, b)
    expect(
        type(step) is int and step == 5,
        "load_checkpoint returns the step that was saved, as an int",
        f"saved with step=5, got {step!r}",
    )
    expect(isinstance(data_state, dict), "load_checkpoint returns data_state as it was saved: the sampler's dict", f"got {type(data_state).__name__}")
    try:
        b.sampler.load_state_dict(data_state)
    except Exception as e:  # noqa: BLE001 - whatever the dict is missing
        raise Misconception(MESSAGES["data"], f"sampler.load_state_dict(data_state) raised {type(e).__name__}: {e}") from None
    expect(
        b.sampler.served == a.sampler.served and _equal(b.sampler.generator.get_state(), at_save["generator"]),
        MESSAGES["data"],
        f"after loading data_state, the sampler had served {b.sampler.served} batches; it had served {a.sampler.served}",
    )
    got, want = b.sampler.get_batch("train")[0], a.sampler.get_batch("train")[0]
    expect_equal(got.flatten().tolist(), want.flatten().tolist(), MESSAGES["data"])


def test_every_rng_is_restored(submission, reference, tmp_path):
    """after loading, Python's random, NumPy's and torch's generators give what they gave right after the save"""
    a, at_save, path = saved_world(submission, reference, tmp_path)
    want = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist())
    b = fresh(reference)
    load(submission, path, b)
    now = rng_now()
    for which in ("torch", "python", "numpy"):
        restored = same_rng(now, at_save["rng"], which)
        if not restored and same_rng(now, at_save["rng_before_save"], which):
            raise Misconception(MESSAGES["save_draws"], f"{which}'s generator moved during save_checkpoint")
        expect(restored, MESSAGES[f"{which}_rng"], f"{which}'s generator after loading is not the state saved")
    got = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist())
    expect_equal(list(got), list(want), "after loading, the generators must draw what they drew right after the save")


def test_rng_false_leaves_the_generators_alone(submission, reference, tmp_path):
    """a checkpoint saved with rng=False holds no generator state: loading it changes none"""
    a, at_save, path = saved_world(submission, reference, tmp_path, rng=False)
    b = fresh(reference)
    before = rng_now()
    load(submission, path, b)
    now = rng_now()
    changed = [w for w in ("python", "numpy", "torch") if not same_rng(now, before, w)]
    expect(
        not changed,
        "with rng=False the checkpoint holds no generator state, so loading it must leave every generator as it is "
        "(rng=False serves runs that should draw fresh numbers, such as a fine-tune started from a checkpoint)",
        f"loading changed the state of: {', '.join(changed)}",
    )


def test_save_changes_nothing(submission, reference, tmp_path):
    """save_checkpoint leaves the model, optimizer, scheduler, sampler and every generator as they were"""
    a = World(reference, 1, 2)
    a.train_by_hand(reference, 3)
    before = snapshot(a)
    save(submission, str(tmp_path / "ckpt.pt"), a, 3)
    after = snapshot(a)
    expect(_equal(after["params"], before["params"]) and after["same_objects"], "save_checkpoint changed the model's parameters")
    expect(
        len(after["optimizer"]) == len(before["optimizer"]) and all(_equal(x, y) for x, y in zip(after["optimizer"], before["optimizer"])),
        "save_checkpoint changed the optimizer's state",
    )
    expect(after["epoch"] == before["epoch"], "save_checkpoint stepped the scheduler: saving must not move the schedule", f"last_epoch {before['epoch']} -> {after['epoch']}")
    expect(after["served"] == before["served"] and _equal(after["generator"], before["generator"]), "save_checkpoint moved the sampler")
    changed = [w for w in ("python", "numpy", "torch") if not same_rng(after["rng"], before["rng"], w)]
    expect(not changed, MESSAGES["save_draws"], f"saving changed the state of: {', '.join(changed)}")


# -- the file -------------------------------------------------------------------------------------------------
def test_checkpoint_reads_with_weights_only(submission, reference, tmp_path):
    """torch.load(path, weights_only=True) reads the checkpoint: tensors, numbers, strings and containers only"""
    _, _, path = saved_world(submission, reference, tmp_path)
    try:
        _real_load(path, weights_only=True)
        return
    except Exception as e:  # noqa: BLE001 - find out what it holds
        error = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    try:
        content = _real_load(path, weights_only=False)
    except Exception as e:  # noqa: BLE001
        raise Misconception("the checkpoint cannot be read back with torch.load", f"{type(e).__name__}: {e}") from None
    found = kinds_inside(content)
    if found & {"module", "optimizer", "scheduler"}:
        what = sorted(found & {"module", "optimizer", "scheduler"})
        raise Misconception(
            "saves the model by reference, not by state_dict: the checkpoint pickles the objects themselves "
            f"({', '.join(what)}), which ties it to the code that defined their classes and cannot be read with "
            "weights_only=True. Save model.state_dict(), optimizer.state_dict() and scheduler.state_dict()",
            error,
        )
    if "ndarray" in found:
        raise Misconception(
            "the checkpoint holds a NumPy array (np.random.get_state() has one), which torch.load(weights_only=True) "
            "refuses: store it as a list (key.tolist()) and rebuild it with np.array(key, dtype=np.uint32) on load",
            error,
        )
    raise Misconception(
        "torch.load(path, weights_only=True) cannot read the checkpoint: keep only tensors, numbers, strings, None and "
        "lists, tuples and dicts of them",
        error,
    )


def kinds_inside(value, depth=0):
    """What kinds of objects a loaded checkpoint holds that weights_only refuses."""
    found = set()
    if depth > 8:
        return found
    if isinstance(value, torch.nn.Module):
        found.add("module")
    elif isinstance(value, torch.optim.Optimizer):
        found.add("optimizer")
    elif isinstance(value, torch.optim.lr_scheduler.LRScheduler):
        found.add("scheduler")
    elif isinstance(value, np.ndarray):
        found.add("ndarray")
    elif isinstance(value, dict):
        for v in value.values():
            found |= kinds_inside(v, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= kinds_inside(v, depth + 1)
    return found


def test_an_interrupted_save_keeps_the_previous_checkpoint(submission, reference, tmp_path, monkeypatch):
    """Ctrl-C halfway through writing a new checkpoint leaves the previous one whole at the path"""
    a, _, path = saved_world(submission, reference, tmp_path, steps=3)
    a.train_by_hand(reference, 1)
    fired = []

    def interrupted_save(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        _real_save(obj, buffer, *args, **kwargs)
        half = buffer.getvalue()[: len(buffer.getvalue()) // 2]
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as out:
                out.write(half)
        else:
            f.write(half)
            f.flush()
        fired.append(f)
        raise SimulatedInterrupt()

    monkeypatch.setattr(torch, "save", interrupted_save)
    try:
        call(submission, "save_checkpoint", path, a.model, a.optimizer, a.scheduler, 4, a.sampler.state_dict())
    except SimulatedInterrupt:
        pass
    finally:
        monkeypatch.setattr(torch, "save", _real_save)
    expect(fired, "save_checkpoint must write the checkpoint with torch.save (the grader interrupts it there)")
    b = fresh(reference)
    try:
        step, _ = load(submission, path, b)
    except Misconception as m:
        raise Misconception(
            "non-atomic save: a save interrupted halfway left a broken file at the checkpoint's path, and the previous "
            "checkpoint is lost. Write to a temporary file in the same folder, then os.replace(tmp, path): the path "
            "then holds the old checkpoint or the new one, never half of one",
            m.diff or m.why,
        ) from None
    expect(step == 3, "after an interrupted save the path must still hold the previous checkpoint", f"it loads as step {step!r}")


def test_save_leaves_only_the_checkpoint(submission, reference, tmp_path):
    """after two saves to one path the folder holds that one file, the newer checkpoint"""
    folder = tmp_path / "run"
    folder.mkdir()
    path = str(folder / "ckpt.pt")
    a = World(reference, 1, 2)
    a.train_by_hand(reference, 2)
    save(submission, path, a, 2)
    a.train_by_hand(reference, 1)
    save(submission, path, a, 3)
    left = sorted(os.listdir(folder))
    expect(
        left == ["ckpt.pt"],
        "save_checkpoint leaves other files behind: move the temporary file onto the path (os.replace), do not copy it",
        f"the folder holds {left}",
    )
    step, _ = load(submission, path, fresh(reference))
    expect(step == 3, "a second save to the same path must replace the first checkpoint", f"it loads as step {step!r}")


# -- train: save every N, resume bit for bit --------------------------------------------------------------------
def test_resume_is_bit_exact(submission, reference, reference_step, tmp_path, monkeypatch):
    """2N steps straight equal N steps, a crash, new objects and other seeds, and a resumed run of N more"""
    want = World(reference, 1, 2)
    want_losses = run_train(reference, want, 2 * N, tmp_path / "reference.pt", N)
    straight = World(reference, 1, 2)
    straight_losses = run_train(submission, straight, 2 * N, tmp_path / "straight.pt", N, submission=submission)
    first = World(reference, 1, 2)
    run_train(submission, first, N, tmp_path / "run.pt", N, submission=submission)
    at_save = snapshot(first)
    del first  # the crash: only the file is left

    loaded = []
    original = submission.load_checkpoint

    def watched_load(path, model, optimizer, scheduler):
        out = original(path, model, optimizer, scheduler)
        loaded.append((out, snapshot(second)))
        return out

    monkeypatch.setattr(submission, "load_checkpoint", watched_load)
    disturb(99)
    second = World(reference, 7, 8)
    resumed = run_train(submission, second, 2 * N, tmp_path / "run.pt", N, submission=submission)
    why = None
    if not (resumed == want_losses[N:] and _equal(flat_params(second.model), flat_params(want.model))):
        why = resume_problem(loaded, at_save, second, resumed)
    if why is None and straight_losses != want_losses:
        why = "your uninterrupted run differs from the reference's (see test_train_matches_the_reference)"
    expect_equal(
        resumed, want_losses[N:],
        why or f"the {N} steps after resuming give other losses than steps {N + 1}..{2 * N} of the uninterrupted run",
    )
    expect_close(
        flat_params(second.model), flat_params(want.model),
        why or "after resuming, the parameters are not bit for bit those of the uninterrupted run", rtol=0, atol=0,
    )  # fmt: skip


def resume_problem(loaded, at_save, second, resumed):
    """The first piece of the run that the resume did not restore, as a message; None when none is found."""
    if not loaded and len(resumed) == 2 * N:
        return MESSAGES["no_resume"]
    if len(resumed) == N + 1:
        return MESSAGES["replays"]
    if len(resumed) == N - 1:
        return MESSAGES["skips"]
    if not loaded:
        return None
    (step, _), after = loaded[0]
    if step == N - 1:
        return MESSAGES["replays"]
    if step == N + 1:
        return MESSAGES["skips"]
    if not after["same_objects"]:
        return MESSAGES["assign"]
    if not _equal(after["params"], at_save["params"]):
        return MESSAGES["weights"]
    got, want = after["optimizer"], at_save["optimizer"]
    if len(got) != len(want) or not all(_equal(x, y) for x, y in zip(got, want)):
        return MESSAGES["optimizer"]
    if after["epoch"] != at_save["epoch"]:
        return MESSAGES["schedule"]
    if not same_rng(after["rng"], at_save["rng"], "torch"):
        return MESSAGES["torch_rng"]
    if second.sampler.log and second.sampler.log[0] != at_save["served"]:
        return MESSAGES["data"]
    return None


def test_train_saves_every_n_steps_and_at_the_end(submission, reference, reference_step, tmp_path):
    """a crash during step 2N + 2 finds the checkpoint of step 2N; a run of N + 1 steps saves after its last"""
    w = World(reference, 1, 2)
    w.sampler.crash_at = 2 * N + 1  # the batch of step 2N + 2: 2N + 1 steps are done
    path = tmp_path / "every.pt"
    try:
        run_train(submission, w, 3 * N, path, N, submission=submission)
        raise Misconception("grader self-check: the crash did not happen, a course bug: please report it")
    except SimulatedCrash:
        pass
    expect(path.is_file(), f"train must save a checkpoint after every `every` steps: after {2 * N + 1} steps there is none")
    step, _ = load(submission, str(path), fresh(reference))
    expect(
        step == 2 * N,
        f"train must save after step s whenever s % every == 0: with every={N}, a crash after {2 * N + 1} steps must "
        f"find the checkpoint of step {2 * N}",
        f"the checkpoint holds step {step}",
    )
    w = World(reference, 1, 2)
    end = tmp_path / "end.pt"
    run_train(submission, w, N + 1, end, N, submission=submission)
    step, _ = load(submission, str(end), fresh(reference))
    expect(step == N + 1, "train must also save after its last step, whatever `every` is", f"a run of {N + 1} steps with every={N} left step {step}")


def test_train_matches_the_reference(submission, reference, reference_step, tmp_path):
    """from scratch, train gives the reference's losses, lrs and parameters; a model passed in eval mode trains with dropout"""
    want = World(reference, 3, 4)
    want.model.eval()
    want_losses = run_train(reference, want, 6, tmp_path / "reference.pt", 4)
    got = World(reference, 3, 4)
    got.model.eval()
    losses = run_train(submission, got, 6, tmp_path / "mine.pt", 4, submission=submission)
    expect(len(losses) == 6, "train returns one loss per step it ran", f"6 steps from scratch returned {len(losses)} losses")
    if got.optimizer.lrs != want.optimizer.lrs:
        first = next(i for i, (a, b) in enumerate(zip(got.optimizer.lrs, want.optimizer.lrs)) if a != b) if len(got.optimizer.lrs) == len(want.optimizer.lrs) else 0
        raise Misconception(
            "the lr of each step differs from the schedule's: call scheduler.step() once after each optimizer step "
            "(then step s runs with the lr of warmup_cosine(s))",
            f"lrs of the steps: {[f'{x:.4g}' for x in got.optimizer.lrs]}, expected {[f'{x:.4g}' for x in want.optimizer.lrs]} "
            f"(first difference at step {first})",
        )
    if not got.model.training:
        raise Misconception("train must put the model in train mode (model.train()) before its first step: dropout was off")
    expect_equal(losses, want_losses, "from scratch, train's losses differ from the reference's at the same seed")
    expect_close(flat_params(got.model), flat_params(want.model), "from scratch, train's parameters differ from the reference's", rtol=0, atol=0)


def test_a_finished_run_does_nothing(submission, reference, reference_step, tmp_path):
    """resuming a checkpoint whose step already equals `steps` runs no step and returns []"""
    path = tmp_path / "done.pt"
    run_train(submission, World(reference, 1, 2), N, path, N, submission=submission)
    w = fresh(reference)
    losses = run_train(submission, w, N, path, N, submission=submission)
    expect(losses == [], "a run whose checkpoint already holds `steps` steps has nothing left to do: train returns []", f"it ran {len(losses)} more steps")


def cuda_checkpoint(submission, reference, tmp_path):
    """A checkpoint of a CUDA run loads into a CUDA model: optimizer state on the device, CUDA's generator restored."""
    a = World(reference, 1, 2, device="cuda")
    a.train_by_hand(reference, 3)
    path = str(tmp_path / "cuda.pt")
    save(submission, path, a, 3)
    cuda_state = torch.cuda.get_rng_state().clone()
    torch.cuda.manual_seed_all(12345)
    b = World(reference, 7, 8, device="cuda")
    load(submission, path, b)
    devices = {s.device.type for p in b.optimizer.param_groups[0]["params"] for s in b.optimizer.state[p].values() if isinstance(s, torch.Tensor) and s.dim() > 0}
    expect(devices == {"cuda"}, "on CUDA the optimizer's state must be on the parameters' device after loading", f"state on {sorted(devices)}")
    expect(_equal(torch.cuda.get_rng_state(), cuda_state), "CUDA's generator was not restored: save torch.cuda.get_rng_state_all() when CUDA is available")
    expect_close(flat_params(b.model), flat_params(a.model), MESSAGES["weights"], rtol=0, atol=0)
