using System.Globalization;
using System.Text.Json;
using System.Text;
using Convnet.IO;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Tensors;

namespace Convnet.Saving;

/// <summary>
/// Saves and loads a <see cref="Sequential"/> as safetensors laid out as PyTorch's nn.Sequential
/// state dict: "&lt;i&gt;.weight" and "&lt;i&gt;.bias" with i the layer's index (activations, pooling and
/// Flatten count), Conv2D weights [out, in, kh, kw], Dense weights [out, in]; BatchNormalization as
/// BatchNorm1d/2d: "weight" = γ, "bias" = β, and its non-trainable state as "running_mean" and
/// "running_var" (no "num_batches_tracked": PyTorch's load_state_dict fills it in when absent). The architecture,
/// input shape, class count and caller's training settings are kept in __metadata__ as strings.
/// An <see cref="Ensemble"/> is one file of the same version: metadata "ensemble" = N, and each
/// member's tensors and its own metadata ("architecture", "input_shape", "classes",
/// "parameters" and the caller's) under the prefix "member&lt;k&gt;." (k from 0), e.g.
/// "member1.3.running_mean" and "member1.architecture". A file without "ensemble" is one model.
/// </summary>
public static class ModelFile
{
    public const string Format = "convnet";
    public const int Version = 1;

    /// <summary>Metadata key of an ensemble file: its member count.</summary>
    public const string EnsembleKey = "ensemble";

    /// <summary>"member&lt;k&gt;.": what member k's tensor names and metadata keys start with in an ensemble file.</summary>
    public static string MemberPrefix(int member) => string.Create(CultureInfo.InvariantCulture, $"member{member}.");

    /// <summary>Writes atomically: a crash never leaves a half-written or clobbered file.</summary>
    public static void Save(this Sequential model, string path, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var tensors = new List<NamedTensor>();
        AddTensors(model, "", tensors);
        var metadata = new Dictionary<string, string>();
        AddEntries(extraMetadata, "", metadata);
        metadata["format"] = Format;
        metadata["format_version"] = Version.ToString(CultureInfo.InvariantCulture);
        AddDescription(model, "", metadata);
        metadata[SafeTensors.ChecksumKey] = SafeTensors.Sha256OfTensorBytes(tensors);
        SafeTensors.Write(path, tensors, metadata);
    }

    /// <summary>
    /// Writes <paramref name="members"/> as one ensemble file, atomically: member k's tensors and
    /// <paramref name="memberMetadata"/>[k] under "member&lt;k&gt;.", and <paramref name="metadata"/>
    /// at the top level with "ensemble" (the member count), "input_shape", "classes" and
    /// "parameters" (all members together).
    /// </summary>
    /// <exception cref="ArgumentException">The members cannot form an <see cref="Ensemble"/>, <paramref name="memberMetadata"/> has another count, or a top-level key starts with "member&lt;k&gt;.".</exception>
    public static void SaveEnsemble(
        IReadOnlyList<Sequential> members,
        string path,
        IReadOnlyDictionary<string, string>? metadata = null,
        IReadOnlyList<IReadOnlyDictionary<string, string>>? memberMetadata = null)
    {
        Ensemble.Validate(members);
        if (memberMetadata is not null && memberMetadata.Count != members.Count)
        {
            throw new ArgumentException($"{memberMetadata.Count} member metadata dictionaries for {members.Count} members.", nameof(memberMetadata));
        }
        if (metadata?.Keys.FirstOrDefault(key => TryMemberIndex(key, out _)) is { } memberKey)
        {
            throw new ArgumentException($"Top-level metadata key '{memberKey}' is in a member's namespace; pass it in memberMetadata.", nameof(metadata));
        }
        var tensors = new List<NamedTensor>();
        var all = new Dictionary<string, string>();
        AddEntries(metadata, "", all);
        for (int k = 0; k < members.Count; k++)
        {
            string prefix = MemberPrefix(k);
            AddTensors(members[k], prefix, tensors);
            AddEntries(memberMetadata?[k], prefix, all);
            AddDescription(members[k], prefix, all);
        }
        all["format"] = Format;
        all["format_version"] = Version.ToString(CultureInfo.InvariantCulture);
        all[EnsembleKey] = members.Count.ToString(CultureInfo.InvariantCulture);
        all["input_shape"] = ShapeText(members[0].InputShape);
        all["classes"] = members[0].Classes.ToString(CultureInfo.InvariantCulture);
        all["parameters"] = members.Sum(m => m.ParameterCount).ToString(CultureInfo.InvariantCulture);
        all[SafeTensors.ChecksumKey] = SafeTensors.Sha256OfTensorBytes(tensors);
        SafeTensors.Write(path, tensors, all);
    }

    /// <summary>Saves <paramref name="ensemble"/>'s members as one file (see <see cref="SaveEnsemble"/>).</summary>
    public static void Save(this Ensemble ensemble, string path, IReadOnlyDictionary<string, string>? metadata = null, IReadOnlyList<IReadOnlyDictionary<string, string>>? memberMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(ensemble);
        SaveEnsemble(ensemble.Members, path, metadata, memberMetadata);
    }

    /// <summary>Reads a model file; any problem is a <see cref="ModelFormatException"/> naming the file. An ensemble file is refused: see <see cref="LoadClassifier"/>.</summary>
    public static (Sequential Model, IReadOnlyDictionary<string, string> Metadata) Load(string path, int threads = 0)
    {
        var (tensors, metadata) = ReadModelFile(path);
        if (EnsembleCount(path, metadata) is int n)
        {
            throw new ModelFormatException(path, $"the file is an ensemble of {n} model{(n == 1 ? "" : "s")}; load it with ModelFile.LoadClassifier or ModelFile.LoadEnsemble");
        }
        return (LoadSingle(path, tensors, metadata, threads), metadata);
    }

    /// <summary>Reads an ensemble file; every member gets <paramref name="threads"/> worker threads. A single-model file is refused: see <see cref="LoadClassifier"/>.</summary>
    public static (Ensemble Model, IReadOnlyDictionary<string, string> Metadata) LoadEnsemble(string path, int threads = 0)
    {
        var (tensors, metadata) = ReadModelFile(path);
        int n = EnsembleCount(path, metadata)
            ?? throw new ModelFormatException(path, $"not an ensemble (metadata has no '{EnsembleKey}'); load it with ModelFile.Load or ModelFile.LoadClassifier");
        return (LoadEnsemble(path, tensors, metadata, n, threads), metadata);
    }

    /// <summary>Reads a model file of either kind: a <see cref="Sequential"/>, or an <see cref="Ensemble"/> when its metadata has "ensemble".</summary>
    public static (IClassifier Model, IReadOnlyDictionary<string, string> Metadata) LoadClassifier(string path, int threads = 0)
    {
        var (tensors, metadata) = ReadModelFile(path);
        IClassifier model = EnsembleCount(path, metadata) is int n
            ? LoadEnsemble(path, tensors, metadata, n, threads)
            : LoadSingle(path, tensors, metadata, threads);
        return (model, metadata);
    }

    /// <summary>Member <paramref name="member"/>'s entries of an ensemble file's metadata, without their "member&lt;k&gt;." prefix.</summary>
    public static IReadOnlyDictionary<string, string> MemberMetadata(IReadOnlyDictionary<string, string> metadata, int member)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        string prefix = MemberPrefix(member);
        return metadata.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(e => e.Key[prefix.Length..], e => e.Value);
    }

    private static (IReadOnlyList<NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadModelFile(string path)
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
        return (tensors, metadata);
    }

    /// <summary>The member count of an ensemble file, or null for a single model.</summary>
    private static int? EnsembleCount(string path, IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.TryGetValue(EnsembleKey, out var text))
        {
            return null;
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1
            ? n
            : throw new ModelFormatException(path, $"invalid {EnsembleKey} '{text}' (the member count, at least 1)");
    }

    private static Sequential LoadSingle(string path, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string> metadata, int threads)
    {
        var input = ParseShape(path, "input_shape", Require(path, metadata, "input_shape"));
        var byName = tensors.ToDictionary(t => t.Name);
        var taken = new HashSet<string>();
        var model = ReadMember(path, byName, taken, "", Require(path, metadata, "architecture"), input, threads);
        if (taken.Count != tensors.Count)
        {
            model.Dispose();
            var extra = tensors.First(t => !taken.Contains(t.Name)).Name;
            throw new ModelFormatException(path, $"unexpected tensor '{extra}' that the architecture does not use");
        }
        return model;
    }

    private static Ensemble LoadEnsemble(string path, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string> metadata, int n, int threads)
    {
        // The metadata first: every member 0..n-1 described, no description beyond.
        for (int k = 0; k < n; k++)
        {
            if (!metadata.ContainsKey(MemberPrefix(k) + "architecture"))
            {
                throw new ModelFormatException(path, $"{EnsembleKey} is {n} but metadata has no '{MemberPrefix(k)}architecture'");
            }
        }
        foreach (var key in metadata.Keys.Order(StringComparer.Ordinal))
        {
            if (TryMemberIndex(key, out int k) && k >= n)
            {
                throw new ModelFormatException(path, $"metadata '{key}' belongs to member {k}, but {EnsembleKey} is {n} (members 0 to {n - 1})");
            }
        }
        string inputText = Require(path, metadata, "input_shape");
        var input = ParseShape(path, "input_shape", inputText);
        string classesText = Require(path, metadata, "classes");
        if (!int.TryParse(classesText, NumberStyles.None, CultureInfo.InvariantCulture, out int classes) || classes < 1)
        {
            throw new ModelFormatException(path, $"invalid classes '{classesText}'");
        }
        var byName = tensors.ToDictionary(t => t.Name);
        var taken = new HashSet<string>();
        var members = new List<Sequential>();
        try
        {
            for (int k = 0; k < n; k++)
            {
                string prefix = MemberPrefix(k);
                string memberInputText = Require(path, metadata, prefix + "input_shape");
                var memberInput = ParseShape(path, prefix + "input_shape", memberInputText);
                if (memberInput != input)
                {
                    throw new ModelFormatException(path, $"member {k} takes {prefix}input_shape {memberInputText} but the ensemble's input_shape is {inputText}");
                }
                var member = ReadMember(path, byName, taken, prefix, Require(path, metadata, prefix + "architecture"), input, threads);
                members.Add(member);
                if (member.Classes != classes)
                {
                    throw new ModelFormatException(path, $"member {k} scores {member.Classes} classes but the ensemble's classes is {classes}");
                }
            }
            if (taken.Count != tensors.Count)
            {
                var extra = tensors.First(t => !taken.Contains(t.Name)).Name;
                throw new ModelFormatException(path, $"unexpected tensor '{extra}' that no member's architecture uses ({EnsembleKey} is {n})");
            }
            return new Ensemble(members);
        }
        catch
        {
            foreach (var member in members)
            {
                member.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// Builds the model that <paramref name="architecture"/> describes and fills it from the tensors
    /// named with <paramref name="prefix"/>, adding each name taken to <paramref name="taken"/>.
    /// </summary>
    private static Sequential ReadMember(string path, Dictionary<string, NamedTensor> byName, HashSet<string> taken, string prefix, string architecture, Shape input, int threads)
    {
        string key = prefix + "architecture";
        var model = new Sequential(input, seed: 0, threads);
        try
        {
            try
            {
                foreach (var (type, config) in ParseArchitecture(architecture))
                {
                    var layer = LayerFactory.Create(type, config);
                    CheckWeightsBeforeBuild(path, byName, $"{prefix}{model.Layers.Count}.weight", layer, model.OutputShape);
                    model.Add(layer);
                }
            }
            catch (Exception e) when (e is FormatException or ArgumentException or JsonException)
            {
                throw new ModelFormatException(path, $"invalid {key}: {e.Message}", e);
            }
            if (model.Layers.Count == 0)
            {
                throw new ModelFormatException(path, $"the {key} has no layers");
            }
            float[] Take(string name, int[] shape)
            {
                var data = ModelFile.Take(path, byName, prefix + name, shape);
                taken.Add(prefix + name);
                return data;
            }
            for (int i = 0; i < model.Layers.Count; i++)
            {
                switch (model.Layers[i])
                {
                    case Conv2D conv:
                        OihwToHwio(Take($"{i}.weight", [conv.Filters, conv.InputShape.Channels, conv.KernelSize, conv.KernelSize]), conv.KernelSize, conv.InputShape.Channels, conv.Filters, conv.Kernel.Value);
                        Take($"{i}.bias", [conv.Filters]).CopyTo(conv.Bias.Value);
                        break;
                    case Dense dense:
                        Transpose(Take($"{i}.weight", [dense.Units, dense.InputShape.Size]), dense.Units, dense.InputShape.Size).CopyTo(dense.Kernel.Value);
                        Take($"{i}.bias", [dense.Units]).CopyTo(dense.Bias.Value);
                        break;
                    case BatchNormalization bn:
                        Take($"{i}.weight", [bn.Gamma.Length]).CopyTo(bn.Gamma.Value);
                        Take($"{i}.bias", [bn.Beta.Length]).CopyTo(bn.Beta.Value);
                        break;
                }
                foreach (var state in model.Layers[i].State)
                {
                    Take($"{i}.{state.Name}", [state.Values.Length]).CopyTo(state.Values, 0);
                }
            }
            if (model.OutputShape.IsImage)
            {
                throw new ModelFormatException(path, $"the {key} does not end in a vector of class scores");
            }
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Adds <paramref name="model"/>'s tensors, named as PyTorch's state dict after <paramref name="prefix"/>.</summary>
    private static void AddTensors(Sequential model, string prefix, List<NamedTensor> tensors)
    {
        for (int i = 0; i < model.Layers.Count; i++)
        {
            string p = string.Create(CultureInfo.InvariantCulture, $"{prefix}{i}.");
            switch (model.Layers[i])
            {
                case Conv2D conv:
                    tensors.Add(new NamedTensor(p + "weight", [conv.Filters, conv.InputShape.Channels, conv.KernelSize, conv.KernelSize], HwioToOihw(conv.Kernel.Value, conv.KernelSize, conv.InputShape.Channels, conv.Filters)));
                    tensors.Add(new NamedTensor(p + "bias", [conv.Filters], conv.Bias.Value.ToArray()));
                    break;
                case Dense dense:
                    tensors.Add(new NamedTensor(p + "weight", [dense.Units, dense.InputShape.Size], Transpose(dense.Kernel.Value, dense.InputShape.Size, dense.Units)));
                    tensors.Add(new NamedTensor(p + "bias", [dense.Units], dense.Bias.Value.ToArray()));
                    break;
                case BatchNormalization bn:
                    tensors.Add(new NamedTensor(p + "weight", [bn.Gamma.Length], bn.Gamma.Value.ToArray()));
                    tensors.Add(new NamedTensor(p + "bias", [bn.Beta.Length], bn.Beta.Value.ToArray()));
                    break;
                case { Parameters.Count: > 0 } other:
                    throw new NotSupportedException($"Saving layer type {other.TypeName} is not supported.");
            }
            foreach (var state in model.Layers[i].State)
            {
                tensors.Add(new NamedTensor(p + state.Name, [state.Values.Length], (float[])state.Values.Clone()));
            }
        }
    }

    /// <summary>"architecture", "input_shape", "classes" and "parameters" of <paramref name="model"/>, after <paramref name="prefix"/>.</summary>
    private static void AddDescription(Sequential model, string prefix, Dictionary<string, string> metadata)
    {
        metadata[prefix + "architecture"] = ArchitectureJson(model);
        metadata[prefix + "input_shape"] = ShapeText(model.InputShape);
        metadata[prefix + "classes"] = model.Classes.ToString(CultureInfo.InvariantCulture);
        metadata[prefix + "parameters"] = model.ParameterCount.ToString(CultureInfo.InvariantCulture);
    }

    private static void AddEntries(IReadOnlyDictionary<string, string>? entries, string prefix, Dictionary<string, string> metadata)
    {
        if (entries is not null)
        {
            foreach (var (key, value) in entries)
            {
                metadata[prefix + key] = value;
            }
        }
    }

    /// <summary>Whether <paramref name="key"/> starts with "member&lt;k&gt;." (k in canonical decimal), and k.</summary>
    private static bool TryMemberIndex(string key, out int member)
    {
        member = -1;
        const string Word = "member";
        int dot = key.IndexOf('.', StringComparison.Ordinal);
        return key.StartsWith(Word, StringComparison.Ordinal) && dot > Word.Length
            && int.TryParse(key.AsSpan(Word.Length, dot - Word.Length), NumberStyles.None, CultureInfo.InvariantCulture, out member)
            && MemberPrefix(member) == key[..(dot + 1)];
    }

    private static string ShapeText(Shape s) => s.IsImage ? $"{s.Height},{s.Width},{s.Channels}" : $"{s.Channels}";

    private static string Require(string path, IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out var v) ? v : throw new ModelFormatException(path, $"not a convnet model (metadata has no '{key}')");

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

    /// <summary>
    /// Checks a Dense's or Conv2D's weight tensor against the layer before the layer is built, so
    /// that metadata claiming a huge layer is refused without allocating it: the file must hold the weights.
    /// </summary>
    private static void CheckWeightsBeforeBuild(string path, Dictionary<string, NamedTensor> byName, string name, Layer layer, Shape input)
    {
        int[]? shape = layer switch
        {
            Dense dense => [dense.Units, input.Size],
            Conv2D conv => [conv.Filters, input.Channels, conv.KernelSize, conv.KernelSize],
            _ => null,
        };
        if (shape is not null)
        {
            // A layer that does not fit its input is reported as such, not as a wrong tensor.
            layer.ComputeOutputShape(input);
            Take(path, byName, name, shape);
        }
    }

    private static Shape ParseShape(string path, string key, string text)
    {
        var parts = text.Split(',');
        var dims = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]) || dims[i] < 1)
            {
                throw new ModelFormatException(path, $"invalid {key} '{text}'");
            }
        }
        if (dims.Length == 3 && ((long)dims[0] * dims[1] > int.MaxValue || (long)dims[0] * dims[1] * dims[2] > int.MaxValue))
        {
            throw new ModelFormatException(path, $"invalid {key} '{text}': more than {int.MaxValue:N0} values");
        }
        return dims.Length switch
        {
            3 => Shape.Image(dims[0], dims[1], dims[2]),
            1 => Shape.Vector(dims[0]),
            _ => throw new ModelFormatException(path, $"invalid {key} '{text}'"),
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
