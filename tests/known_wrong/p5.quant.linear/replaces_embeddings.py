MISCONCEPTION = "a module that is not an nn.Linear was replaced or changed"

_reference_quantize_model = quantize_model


def quantize_model(model, group_size=None, skip=("lm_head",)):
    quantized = _reference_quantize_model(model, group_size, skip)
    with torch.no_grad():
        for module in quantized.modules():
            if isinstance(module, nn.Embedding):  # the embeddings through INT8 as well, stored as floats
                q, scale = quantize(module.weight, "channel")
                module.weight.copy_(dequantize(q, scale))
    return quantized
