"""The dialogue's flows: conversations over several messages, and what a chat asks of its data.

- ``router``: where the dialogue enters (commands, buttons, intents, details in a message, the
  answer to a flow's question); ``Flows`` and ``FlowSetup``.
- ``state``: the flow state shared by the flows of a turn (memory, offered choices, language).
- ``base``: what every flow works with.
- ``appointment``, ``reminder_list``, ``booking_link``, ``case_status``, ``waste_collection``:
  one flow each; ``privacy``: the chat's data export and deleting it.
"""
