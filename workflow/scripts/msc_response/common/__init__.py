"""What every stage shares: `errors` (the user-facing exception and its wording),
`scripting` (the runner every rule's script goes through: logging, clear messages for
input and machine errors), `tables` (atomic writes, byte-stable TSVs, via
`float_text`), `figures` (PNG settings), `config` (the schema check and config
layering, at parse time) and `provenance` (rule provenance: results/provenance.json).
"""
