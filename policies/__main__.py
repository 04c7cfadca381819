"""The llm-platform CrossGuard pack. Run by `pulumi preview --policy-pack policies` (the CLI starts
this file in the pack's virtualenv and speaks the analyzer protocol with it) and by
`python -m scripts audit`, which starts it the same way."""

from llm_guard.pack import build_pack

build_pack()
