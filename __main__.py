"""llm-platform: `pulumi up -s <stack>` builds the phase the stack config names."""

from stacks.program import main

main()
