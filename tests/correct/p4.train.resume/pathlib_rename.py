"""pathlib throughout: a sibling temporary path and Path.rename (atomic on POSIX); NumPy's state in its
dictionary form; the generators restored before the model."""

from pathlib import Path


def save_checkpoint(path, model, optimizer, scheduler, step, data_state, rng=True):
    path = Path(path)
    blob = dict(step=step, data=data_state, model=model.state_dict(), opt=optimizer.state_dict(), sched=scheduler.state_dict())
    if rng:
        np_state = np.random.get_state(legacy=False)
        np_state["state"] = dict(np_state["state"], key=np_state["state"]["key"].tolist())
        blob["generators"] = dict(py=random.getstate(), np=np_state, cpu=torch.get_rng_state())
        if torch.cuda.is_available():
            blob["generators"]["cuda"] = torch.cuda.get_rng_state_all()
    partial = path.with_name(path.name + ".partial")
    torch.save(blob, partial)
    partial.rename(path)


def load_checkpoint(path, model, optimizer, scheduler):
    blob = torch.load(Path(path), map_location="cpu")
    generators = blob.get("generators")
    if generators is not None:
        random.setstate(generators["py"])
        np_state = generators["np"]
        np_state["state"] = dict(np_state["state"], key=np.array(np_state["state"]["key"], dtype=np.uint32))
        np.random.set_state(np_state)
        torch.set_rng_state(generators["cpu"])
        if "cuda" in generators and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(generators["cuda"])
    model.load_state_dict(blob["model"])
    optimizer.load_state_dict(blob["opt"])
    scheduler.load_state_dict(blob["sched"])
    return blob["step"], blob["data"]
