"""The llm-platform CrossGuard pack. Run by `pulumi preview --policy-pack policies` (the CLI starts
this file in the pack's virtualenv and speaks the analyzer protocol with it) and by
`python -m scripts audit`, which starts it the same way."""

import threading

from llm_guard.gateway import warm_up
from llm_guard.pack import build_pack

# Gateway routes are resolved with LiteLLM, whose import takes seconds: start it while the engine
# connects and sends the first resources.
threading.Thread(target=warm_up, name="litellm-warm-up", daemon=True).start()
build_pack()
