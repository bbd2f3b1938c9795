#!/usr/bin/env python3
"""Writes small valid inputs for the fuzz targets into seeds/<target>/ (deterministic; run it
before fuzzing: `python3 make_seeds.py`). Real model files are far too big to be good seeds, so
these are hand-made files with the same structure: every GGUF metadata type, the keys the
typed configs read, quantized and float tensors, and safetensors files with every code path's
dtypes."""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "seeds", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# ---- GGUF -------------------------------------------------------------------------------
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
FMT = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
       U64: "Q", I64: "q", F64: "d"}


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    if t == STR:
        return gstr(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gval(et, x) for x in items)
    return struct.pack("<" + FMT[t], v)


# ggml type id -> (block size, bytes per block)
GGML = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 8: (32, 34), 12: (256, 144),
        14: (256, 210), 30: (1, 2)}


def gguf(kvs, tensors, alignment=32):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, t, v in kvs:
        out += gstr(key) + struct.pack("<I", t) + gval(t, v)
    offset, datas = 0, []
    for name, type_id, shape in tensors:
        block, size = GGML[type_id]
        n = 1
        for d in shape:
            n *= d
        nbytes = n // block * size
        offset = (offset + alignment - 1) // alignment * alignment
        out += gstr(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
        out += struct.pack("<IQ", type_id, offset)
        datas.append((offset, bytes((i * 37 + 11) % 256 for i in range(nbytes))))
        offset += nbytes
    out += b"\0" * ((-len(out)) % alignment)
    start = len(out)
    for off, data in datas:
        out += b"\0" * (start + off - len(out)) + data
    return out


def tokens(n):
    return [("tokenizer.ggml.model", STR, "gpt2"),
            ("tokenizer.ggml.tokens", ARR, (STR, [f"t{i}" for i in range(n)]))]


llama = [("general.architecture", STR, "llama"), ("llama.block_count", U32, 2),
         ("llama.embedding_length", U32, 64), ("llama.feed_forward_length", U32, 128),
         ("llama.attention.head_count", U32, 4), ("llama.attention.head_count_kv", U32, 2),
         ("llama.context_length", U32, 256), ("llama.rope.freq_base", F32, 10000.0),
         ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
         ("llama.rope.dimension_count", U32, 16)] + tokens(8)
write("gguf_parse", "llama", gguf(llama, [("token_embd.weight", 8, [64, 8]),
                                          ("blk.0.attn_q.weight", 3, [64, 64]),
                                          ("output_norm.weight", 0, [64])]))

gemma = [("general.architecture", STR, "gemma3"), ("gemma3.block_count", U32, 6),
         ("gemma3.embedding_length", U32, 32), ("gemma3.feed_forward_length", U32, 64),
         ("gemma3.attention.head_count", U32, 2), ("gemma3.attention.head_count_kv", U32, 1),
         ("gemma3.attention.key_length", U32, 32), ("gemma3.attention.value_length", U32, 32),
         ("gemma3.context_length", I32, 512), ("gemma3.rope.freq_base", F64, 1e6),
         ("gemma3.attention.sliding_window", U64, 16),
         ("gemma3.attention.sliding_window_pattern", ARR, (BOOL, [True] * 5 + [False])),
         ("gemma3.attention.layer_norm_rms_epsilon", F32, 1e-6),
         ("gemma3.rope.scaling.type", STR, "linear"), ("gemma3.rope.scaling.factor", F32, 8.0),
         ("general.alignment", U32, 64)] + tokens(4)
write("gguf_parse", "gemma3", gguf(gemma, [("token_embd.weight", 12, [256, 4]),
                                            ("blk.0.ffn_down.weight", 14, [256, 1]),
                                            ("output.weight", 30, [32, 4])], alignment=64))

bert = [("general.architecture", STR, "bert"), ("bert.block_count", U32, 1),
        ("bert.embedding_length", U32, 8), ("bert.feed_forward_length", U32, 16),
        ("bert.attention.head_count", U32, 2), ("bert.context_length", U32, 16),
        ("bert.attention.layer_norm_epsilon", F32, 1e-12), ("bert.attention.causal", BOOL, False),
        ("bert.pooling_type", U32, 1), ("tokenizer.ggml.token_type_count", U32, 2)] + tokens(3)
write("gguf_parse", "bert", gguf(bert, [("token_embd.weight", 1, [8, 3])]))

every_type = [("general.architecture", STR, "other"), ("u8", U8, 200), ("i8", I8, -5),
              ("u16", U16, 60000), ("i16", I16, -3), ("u32", U32, 7), ("i32", I32, -7),
              ("f32", F32, 0.5), ("b", BOOL, True), ("s", STR, "héllo"), ("u64", U64, 2**63),
              ("i64", I64, -2**40), ("f64", F64, 3.5),
              ("nested", ARR, (ARR, [(I32, [1, 2]), (STR, ["x"]), (ARR, [(U8, [9])])]))]
write("gguf_parse", "every_type", gguf(every_type, [("a", 2, [32, 2]), ("b", 0, [])]))

# ---- safetensors --------------------------------------------------------------------------
def safetensors(tensors, metadata={"format": "pt"}, pad_to=8):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % pad_to)
    return struct.pack("<Q", len(text)) + text + data


write("safetensors_parse", "floats", safetensors([
    ("w.f32", "F32", [2, 2], struct.pack("<4f", 1.5, -0.0, 3.0e38, 1e-40)),
    ("w.f16", "F16", [3], struct.pack("<3e", 1.0, -2.5, 65504.0)),
    ("w.bf16", "BF16", [1, 2], bytes([0x80, 0x3F, 0x40, 0xC0])),
    ("scalar", "F32", [], struct.pack("<f", 2.0)),
]))
write("safetensors_parse", "ints_and_empty", safetensors([
    ("ids", "I64", [1, 3], struct.pack("<3q", 0, 1, 2)),
    ("empty", "F32", [0, 4], b""),
    ("mask", "BOOL", [2], b"\x01\x00"),
    ("u", "U16", [2], struct.pack("<2H", 1, 2)),
], metadata=None))
write("safetensors_parse", "sub_byte", safetensors([
    ("f4", "F4", [4], b"\x12\x34"),
    ("f6", "F6_E2M3", [4], b"\x01\x02\x03"),
    ("f8", "F8_E4M3", [2], b"\x38\x40"),
]))
write("safetensors_parse", "empty", safetensors([], metadata=None, pad_to=1))

# ---- config.json ----------------------------------------------------------------------------
write("hf_config", "llama", json.dumps({
    "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "intermediate_size": 128, "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5, "rope_theta": 10000, "hidden_act": "silu", "vocab_size": 100,
    "tie_word_embeddings": True, "rope_scaling": {"rope_type": "linear", "factor": 2.0}}).encode())
write("hf_config", "gemma3", json.dumps({
    "model_type": "gemma3", "text_config": {
        "model_type": "gemma3_text", "hidden_size": 32, "num_hidden_layers": 6,
        "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32,
        "intermediate_size": 64, "max_position_embeddings": 512, "rms_norm_eps": 1e-6,
        "hidden_activation": "gelu_pytorch_tanh", "vocab_size": 100, "sliding_window": 16,
        "query_pre_attn_scalar": 32,
        "layer_types": ["sliding_attention"] * 5 + ["full_attention"],
        "rope_parameters": {"full_attention": {"rope_theta": 1e6, "rope_type": "default"},
                            "sliding_attention": {"rope_theta": 1e4}}}}).encode())
write("hf_config", "bert_with_pooling", json.dumps(
    {"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True}).encode() + b"\n" + json.dumps({
        "model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 16, "max_position_embeddings": 16, "layer_norm_eps": 1e-12,
        "hidden_act": "gelu", "vocab_size": 30, "type_vocab_size": 2,
        "position_embedding_type": "absolute"}).encode())
print("seeds written to", os.path.join(HERE, "seeds"))
