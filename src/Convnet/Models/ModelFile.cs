using System.Globalization;
using System.Text;
using System.Text.Json;
using Convnet.IO;
using Convnet.Layers;
using Convnet.Tensors;

namespace Convnet.Models;

/// <summary>
/// Saves and loads a <see cref="Sequential"/> as safetensors laid out as PyTorch's nn.Sequential
/// state dict: "&lt;i&gt;.weight" and "&lt;i&gt;.bias" with i the layer's index (activations, pooling and
/// Flatten count), Conv2D weights [out, in, kh, kw], Dense weights [out, in]; BatchNormalization as
/// BatchNorm1d/2d: "weight" = γ, "bias" = β, and its non-trainable state as "running_mean" and
/// "running_var" (no "num_batches_tracked": PyTorch's load_state_dict fills it in when absent). The architecture,
/// input shape, class count and caller's training settings are kept in __metadata__ as strings.
/// </summary>
public static class ModelFile
{
    public const string Format = "convnet";
    public const int Version = 1;

    /// <summary>Writes atomically: a crash never leaves a half-written or clobbered file.</summary>
    public static void Save(Sequential model, string path, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        var tensors = new List<NamedTensor>();
        for (int i = 0; i < model.Layers.Count; i++)
        {
            switch (model.Layers[i])
            {
                case Conv2D conv:
                    tensors.Add(new NamedTensor($"{i}.weight", [conv.Filters, conv.InputShape.Channels, conv.KernelSize, conv.KernelSize], HwioToOihw(conv.Kernel.Value, conv.KernelSize, conv.InputShape.Channels, conv.Filters)));
                    tensors.Add(new NamedTensor($"{i}.bias", [conv.Filters], conv.Bias.Value.ToArray()));
                    break;
                case Dense dense:
                    tensors.Add(new NamedTensor($"{i}.weight", [dense.Units, dense.InputShape.Size], Transpose(dense.Kernel.Value, dense.InputShape.Size, dense.Units)));
                    tensors.Add(new NamedTensor($"{i}.bias", [dense.Units], dense.Bias.Value.ToArray()));
                    break;
                case BatchNormalization bn:
                    tensors.Add(new NamedTensor($"{i}.weight", [bn.Gamma.Length], bn.Gamma.Value.ToArray()));
                    tensors.Add(new NamedTensor($"{i}.bias", [bn.Beta.Length], bn.Beta.Value.ToArray()));
                    break;
                case { Parameters.Count: > 0 } other:
                    throw new NotSupportedException($"Saving layer type {other.TypeName} is not supported.");
            }
            foreach (var state in model.Layers[i].State)
            {
                tensors.Add(new NamedTensor($"{i}.{state.Name}", [state.Values.Length], (float[])state.Values.Clone()));
            }
        }
        var metadata = new Dictionary<string, string>();
        if (extraMetadata is not null)
        {
            foreach (var (key, value) in extraMetadata)
            {
                metadata[key] = value;
            }
        }
        metadata["format"] = Format;
        metadata["format_version"] = Version.ToString(CultureInfo.InvariantCulture);
        metadata["architecture"] = ArchitectureJson(model);
        var s = model.InputShape;
        metadata["input_shape"] = s.IsImage ? $"{s.Height},{s.Width},{s.Channels}" : $"{s.Channels}";
        metadata["classes"] = model.Classes.ToString(CultureInfo.InvariantCulture);
        metadata["parameters"] = model.ParameterCount.ToString(CultureInfo.InvariantCulture);
        metadata[SafeTensors.ChecksumKey] = SafeTensors.Sha256OfTensorBytes(tensors);
        SafeTensors.Write(path, tensors, metadata);
    }

    /// <summary>Reads a model file; any problem is a <see cref="ModelFormatException"/> naming the file.</summary>
    public static (Sequential Model, IReadOnlyDictionary<string, string> Metadata) Load(string path, int threads = 0)
    {
        var (tensors, metadata) = SafeTensors.Read(path);
        string Require(string key) => metadata.TryGetValue(key, out var v) ? v : throw new ModelFormatException(path, $"not a convnet model (metadata has no '{key}')");
        if (Require("format") != Format)
        {
            throw new ModelFormatException(path, $"not a convnet model (format '{metadata["format"]}')");
        }
        if (Require("format_version") != Version.ToString(CultureInfo.InvariantCulture))
        {
            throw new ModelFormatException(path, $"unsupported convnet model version '{metadata["format_version"]}' (this build reads version {Version})");
        }
        var input = ParseShape(path, Require("input_shape"));
        Sequential model;
        try
        {
            model = new Sequential(input, seed: 0, threads);
            foreach (var (type, config) in ParseArchitecture(Require("architecture")))
            {
                model.Add(LayerFactory.Create(type, config));
            }
        }
        catch (Exception e) when (e is FormatException or ArgumentException or JsonException)
        {
            throw new ModelFormatException(path, $"invalid architecture: {e.Message}", e);
        }
        if (model.Layers.Count == 0)
        {
            throw new ModelFormatException(path, "the architecture has no layers");
        }
        var byName = tensors.ToDictionary(t => t.Name);
        int used = 0;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            switch (model.Layers[i])
            {
                case Conv2D conv:
                    OihwToHwio(Take(path, byName, $"{i}.weight", [conv.Filters, conv.InputShape.Channels, conv.KernelSize, conv.KernelSize]), conv.KernelSize, conv.InputShape.Channels, conv.Filters, conv.Kernel.Value);
                    Take(path, byName, $"{i}.bias", [conv.Filters]).CopyTo(conv.Bias.Value);
                    used += 2;
                    break;
                case Dense dense:
                    Transpose(Take(path, byName, $"{i}.weight", [dense.Units, dense.InputShape.Size]), dense.Units, dense.InputShape.Size).CopyTo(dense.Kernel.Value);
                    Take(path, byName, $"{i}.bias", [dense.Units]).CopyTo(dense.Bias.Value);
                    used += 2;
                    break;
                case BatchNormalization bn:
                    Take(path, byName, $"{i}.weight", [bn.Gamma.Length]).CopyTo(bn.Gamma.Value);
                    Take(path, byName, $"{i}.bias", [bn.Beta.Length]).CopyTo(bn.Beta.Value);
                    used += 2;
                    break;
            }
            foreach (var state in model.Layers[i].State)
            {
                Take(path, byName, $"{i}.{state.Name}", [state.Values.Length]).CopyTo(state.Values, 0);
                used++;
            }
        }
        if (used != tensors.Count)
        {
            var extra = tensors.Select(t => t.Name).Where(n => !IsUsed(model, n)).First();
            throw new ModelFormatException(path, $"unexpected tensor '{extra}' that the architecture does not use");
        }
        if (model.OutputShape.IsImage)
        {
            throw new ModelFormatException(path, "the architecture does not end in a vector of class scores");
        }
        return (model, metadata);
    }

    private static bool IsUsed(Sequential model, string name)
    {
        int dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && int.TryParse(name.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            && i < model.Layers.Count
            && ((model.Layers[i].Parameters.Count > 0 && name[(dot + 1)..] is "weight" or "bias")
                || model.Layers[i].State.Any(s => s.Name == name[(dot + 1)..]));
    }

    private static float[] Take(string path, Dictionary<string, NamedTensor> byName, string name, int[] shape)
    {
        if (!byName.TryGetValue(name, out var t))
        {
            throw new ModelFormatException(path, $"missing tensor '{name}'");
        }
        if (!t.Shape.SequenceEqual(shape))
        {
            throw new ModelFormatException(path, $"tensor '{name}' has shape [{string.Join(", ", t.Shape)}], the architecture needs [{string.Join(", ", shape)}]");
        }
        return t.Data;
    }

    private static Shape ParseShape(string path, string text)
    {
        var parts = text.Split(',');
        var dims = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]) || dims[i] < 1)
            {
                throw new ModelFormatException(path, $"invalid input_shape '{text}'");
            }
        }
        return dims.Length switch
        {
            3 => Shape.Image(dims[0], dims[1], dims[2]),
            1 => Shape.Vector(dims[0]),
            _ => throw new ModelFormatException(path, $"invalid input_shape '{text}'"),
        };
    }

    /// <summary>[{"type": "Conv2D", "filters": "32", ...}, ...] — one object per layer.</summary>
    public static string ArchitectureJson(Sequential model)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var layer in model.Layers)
            {
                json.WriteStartObject();
                json.WriteString("type", layer.TypeName);
                foreach (var (key, value) in layer.Config)
                {
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    internal static List<(string Type, Dictionary<string, string> Config)> ParseArchitecture(string text)
    {
        using var doc = JsonDocument.Parse(text);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("the architecture is not a JSON array");
        }
        var layers = new List<(string, Dictionary<string, string>)>();
        foreach (var element in doc.RootElement.EnumerateArray())
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("a layer is not a JSON object");
            }
            string? type = null;
            var config = new Dictionary<string, string>();
            foreach (var property in element.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.String)
                {
                    throw new FormatException($"layer field '{property.Name}' is not a string");
                }
                if (property.Name == "type")
                {
                    type = property.Value.GetString();
                }
                else
                {
                    config[property.Name] = property.Value.GetString()!;
                }
            }
            layers.Add((type ?? throw new FormatException("a layer has no type"), config));
        }
        return layers;
    }

    // w: [KH, KW, C, F] → [F, C, KH, KW]
    private static float[] HwioToOihw(ReadOnlySpan<float> w, int k, int c, int f)
    {
        var result = new float[w.Length];
        for (int ky = 0; ky < k; ky++)
        {
            for (int kx = 0; kx < k; kx++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    for (int o = 0; o < f; o++)
                    {
                        result[((o * c + ch) * k + ky) * k + kx] = w[((ky * k + kx) * c + ch) * f + o];
                    }
                }
            }
        }
        return result;
    }

    // w: [F, C, KH, KW] → dst: [KH, KW, C, F]
    private static void OihwToHwio(ReadOnlySpan<float> w, int k, int c, int f, Span<float> dst)
    {
        for (int ky = 0; ky < k; ky++)
        {
            for (int kx = 0; kx < k; kx++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    for (int o = 0; o < f; o++)
                    {
                        dst[((ky * k + kx) * c + ch) * f + o] = w[((o * c + ch) * k + ky) * k + kx];
                    }
                }
            }
        }
    }

    // w: [rows, cols] → [cols, rows]
    private static float[] Transpose(ReadOnlySpan<float> w, int rows, int cols)
    {
        var result = new float[w.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                result[c * rows + r] = w[r * cols + c];
            }
        }
        return result;
    }
}
