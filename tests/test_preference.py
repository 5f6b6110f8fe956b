"""Preference data end to end: episodes of two policies on the same tasks -> pairwise labels by two people ->
DPO and RM dataset versions -> a few steps of TRL's DPOTrainer and RewardTrainer on the exported files as they are."""
import math

import pytest

from agentfactory.core.records import Message, Reply
from agentfactory.data.datasets import build_dataset, dataset_lineage
from agentfactory.data.ingest import ingest_trajectories, load_trajectories
from agentfactory.data.labels import create_batch, submit_label
from agentfactory.envs.loop import run_episodes
from agentfactory.envs.supportdesk import SupportDesk
from agentfactory.models.base import resolve_base


class ShrugPolicy:
    "A deliberately useless support agent (the rejected side): answers without looking anything up."
    name = "shrug"

    def act(self, conversations, tools):
        return [Reply(message=Message(role="assistant", content="I am not sure, please check later.")) for _ in conversations]


def test_dpo_and_rm_from_pairwise_labels_feed_trl(af_home, tmp_path):
    desk = SupportDesk()
    tasks = desk.tasks("train", n=6, seed=0)
    good = run_episodes(desk.expert(), desk, tasks, model_version="expert", progress=False)
    bad = run_episodes(ShrugPolicy(), desk, tasks, model_version="shrug", progress=False)
    ingest_trajectories(good + bad)
    pairs = create_batch("pairwise", {"source": "rollout"}, min_annotations=2)
    assert len(pairs) == len(tasks)
    by_id = {t.id: t for t in load_trajectories()}
    for i, task in enumerate(pairs):
        better = "a" if by_id[task.trajectory_ids[0]].success else "b"
        submit_label(task.id, "ana", {"choice": better})
        # the second person disagrees on one item: a 1-1 split is no majority, so that pair is left out
        submit_label(task.id, "ben", {"choice": ("b" if better == "a" else "a") if i == 0 else better})

    dpo = build_dataset("dpo", tools=desk.tools)
    assert dpo.rows == len(tasks) - 1
    assert set(dataset_lineage(dpo.id)) <= set(by_id)
    rm = build_dataset("rm", tools=desk.tools)
    assert rm.hash == dpo.hash and rm.id != dpo.id        # same rows, its own version of its own kind
    assert build_dataset("dpo", tools=desk.tools).id == dpo.id

    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer
    base = resolve_base("tiny", desk.corpus())
    tok = AutoTokenizer.from_pretrained(base)
    common = dict(max_steps=2, per_device_train_batch_size=2, use_cpu=True, bf16=False, report_to="none",
                  gradient_checkpointing=False, logging_steps=1, save_strategy="no", disable_tqdm=True)

    ds = dpo.load()
    assert set(ds.column_names) >= {"prompt", "chosen", "rejected", "tools"}
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(base), processing_class=tok, train_dataset=ds,
                         args=DPOConfig(output_dir=str(tmp_path / "dpo"), max_length=1024, **common))
    out = trainer.train()
    assert out.global_step == 2 and math.isfinite(out.training_loss)

    rm_model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    rm_model.config.pad_token_id = tok.pad_token_id
    trainer = RewardTrainer(model=rm_model, processing_class=tok, train_dataset=rm.load(),
                            args=RewardConfig(output_dir=str(tmp_path / "rm"), max_length=1024, **common))
    out = trainer.train()
    assert out.global_step == 2 and math.isfinite(out.training_loss)
