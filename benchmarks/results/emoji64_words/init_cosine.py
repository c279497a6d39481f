"""Mean cosine between the pooled text embeddings of emoji names that share
letters, at initialisation, over bytes and over hashed words (seeds 0-2)."""

import json

import keras
import numpy as np

from keras_simple_diffusion.text import build_text_encoder

names = ["red apple", "green apple", "pineapple", "apple", "grapes", "red heart", "pear"]
out = {}
for tokens in ("bytes", "words"):
    for seed in (0, 1, 2):
        keras.utils.set_random_seed(seed)
        encoder = build_text_encoder(tokens=tokens, sequence_length=16)
        ids = encoder.preprocessor.tokenize(names)
        pooled = keras.ops.convert_to_numpy(encoder([ids["token_ids"], ids["padding_mask"]])[1])
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        cosine = pooled @ pooled.T
        out[f"{tokens} seed {seed}"] = round(
            float(cosine[~np.eye(len(names), dtype=bool)].mean()), 3
        )
        print(tokens, seed, out[f"{tokens} seed {seed}"], flush=True)
print(json.dumps(dict(names=names, mean_cosine=out, backend=keras.backend.backend())))
