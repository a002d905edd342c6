using System.Globalization;
using System.Text.Json;
using Convnet.Architecture;
using Convnet.Data;
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
/// input shape, class count, class names ("class_names", a JSON array, when the model has them) and
/// caller's training settings are kept in __metadata__ as strings.
/// An <see cref="Ensemble"/> is one file of the same version: metadata "ensemble" = N, and each
/// member's tensors and its own metadata ("architecture", "input_shape", "classes",
/// "parameters" and the caller's) under the prefix "member&lt;k&gt;." (k from 0), e.g.
/// "member1.3.running_mean" and "member1.architecture". A file without "ensemble" is one model.
/// </summary>
public static class ModelFile
{
    /// <summary>The value of the metadata key "format" in every model file; Load refuses a file with another.</summary>
    public const string Format = "convnet";
    /// <summary>The value of the metadata key "format_version" this build writes; Load refuses any other.</summary>
    public const int Version = 1;

    /// <summary>Metadata key of a model's class names, a JSON array of strings in output order (absent when the classes are just numbers).</summary>
    public const string ClassNamesKey = "class_names";

    /// <summary>Metadata key of an ensemble file: its member count.</summary>
    public const string EnsembleKey = "ensemble";

    /// <summary>"member&lt;k&gt;.": what member k's tensor names and metadata keys start with in an ensemble file.</summary>
    public static string MemberPrefix(int member) => string.Create(CultureInfo.InvariantCulture, $"member{member}.");

    /// <summary>Writes atomically: a crash never leaves a half-written or clobbered file.</summary>
    public static void Save(this Sequential model, string path, IReadOnlyDictionary<string, string>? extraMetadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        RefuseNonFinite(model, path, "the model");
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
            RefuseNonFinite(members[k], path, $"member {k}");
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
        if (members[0].ClassNames is { } classNames)
        {
            all[ClassNamesKey] = ClassNamesText(classNames);
        }
        all[SafeTensors.ChecksumKey] = SafeTensors.Sha256OfTensorBytes(tensors);
        SafeTensors.Write(path, tensors, all);
    }

    /// <summary>A diverged model (a NaN or infinite weight) is refused rather than saved over a good file.</summary>
    private static void RefuseNonFinite(Sequential model, string path, string what)
    {
        if (!model.WeightsAreFinite())
        {
            throw new ModelFormatException(path, $"not saved: {what}'s weights hold NaN or infinite values (training diverged)");
        }
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
        try
        {
            model.ClassNames = ReadClassNames(path, metadata, "", model.Classes);
        }
        catch
        {
            model.Dispose();
            throw;
        }
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
                member.ClassNames = ReadClassNames(path, metadata, prefix, member.Classes);
                if (k > 0 && !NamesEqual(member.ClassNames, members[0].ClassNames))
                {
                    throw new ModelFormatException(path, $"member {k}'s {ClassNamesKey} differ from member 0's");
                }
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
    /// The file's tensors are checked against what the layers declare before anything is built,
    /// so a file whose metadata claims huge layers is refused without allocating them.
    /// </summary>
    private static Sequential ReadMember(string path, Dictionary<string, NamedTensor> byName, HashSet<string> taken, string prefix, string architecture, Shape input, int threads)
    {
        string key = prefix + "architecture";
        IReadOnlyList<Layer> layers;
        try
        {
            layers = Convnet.Architecture.ArchitectureJson.Read(architecture);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or JsonException)
        {
            throw new ModelFormatException(path, $"invalid {key}: {e.Message}", e);
        }
        if (layers.Count == 0)
        {
            throw new ModelFormatException(path, $"the {key} has no layers");
        }
        // Each layer's tensors, by name and shape, from its declarations alone.
        var declared = new List<IReadOnlyList<TensorDeclaration>>();
        var shape = input;
        for (int i = 0; i < layers.Count; i++)
        {
            try
            {
                declared.Add(layers[i].DeclareTensors(shape));
                shape = layers[i].ComputeOutputShape(shape);
            }
            catch (ArgumentException e)
            {
                throw new ModelFormatException(path, $"invalid {key}: layer {i + 1} ({layers[i].TypeName}): {e.Message.Split(" (Parameter", 2)[0]}", e);
            }
            foreach (var d in declared[i])
            {
                Take(path, byName, string.Create(CultureInfo.InvariantCulture, $"{prefix}{i}.{d.Name}"), d.Shape);
            }
        }
        if (shape.IsImage)
        {
            throw new ModelFormatException(path, $"the {key} does not end in a vector of class scores");
        }
        var model = new Sequential(input, seed: 0, threads);
        try
        {
            for (int i = 0; i < layers.Count; i++)
            {
                try
                {
                    model.Add(layers[i]);
                }
                catch (ArgumentException e)
                {
                    throw new ModelFormatException(path, $"invalid {key}: layer {i + 1} ({layers[i].TypeName}): {e.Message.Split(" (Parameter", 2)[0]}", e);
                }
                var own = new float[declared[i].Count][];
                for (int t = 0; t < own.Length; t++)
                {
                    string name = string.Create(CultureInfo.InvariantCulture, $"{prefix}{i}.{declared[i][t].Name}");
                    own[t] = byName[name].Data;
                    taken.Add(name);
                }
                layers[i].LoadOwnTensors(own);
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
            var layer = model.Layers[i];
            var declared = layer.DeclareTensors(layer.InputShape);
            var data = layer.SaveOwnTensors();
            if (data.Length != declared.Count)
            {
                throw new NotSupportedException($"Layer {layer.Name} ({layer.TypeName}) declares {declared.Count} tensors but saved {data.Length}.");
            }
            for (int t = 0; t < data.Length; t++)
            {
                tensors.Add(new NamedTensor(string.Create(CultureInfo.InvariantCulture, $"{prefix}{i}.{declared[t].Name}"), declared[t].Shape, data[t]));
            }
        }
    }

    /// <summary>Class names as a JSON array of strings.</summary>
    internal static string ClassNamesText(IReadOnlyList<string> names)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var name in names)
            {
                writer.WriteStringValue(name);
            }
            writer.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The class names under <paramref name="prefix"/>, or null when the file has none; checked against <paramref name="classes"/>.</summary>
    private static IReadOnlyList<string>? ReadClassNames(string path, IReadOnlyDictionary<string, string> metadata, string prefix, int classes)
    {
        string key = prefix + ClassNamesKey;
        if (!metadata.TryGetValue(key, out var text))
        {
            return null;
        }
        var names = new List<string>();
        try
        {
            using var json = JsonDocument.Parse(text);
            if (json.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new ModelFormatException(path, $"{key} is not a JSON array of class names");
            }
            foreach (var element in json.RootElement.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.String)
                {
                    throw new ModelFormatException(path, $"{key} holds {element.ValueKind.ToString().ToLowerInvariant()} where a class name belongs");
                }
                names.Add(element.GetString()!);
                if (names.Count > classes)
                {
                    break;
                }
            }
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"invalid {key}: {e.Message}", e);
        }
        if (names.Count != classes)
        {
            throw new ModelFormatException(path, $"{key} names {(names.Count > classes ? "more than " + classes.ToString(CultureInfo.InvariantCulture) : names.Count.ToString(CultureInfo.InvariantCulture))} classes but the model scores {classes}");
        }
        try
        {
            Dataset.CheckClassNames(names, key);
        }
        catch (ArgumentException e)
        {
            throw new ModelFormatException(path, $"invalid {key}: {e.Message.Split(" (Parameter", 2)[0]}", e);
        }
        return names;
    }

    private static bool NamesEqual(IReadOnlyList<string>? a, IReadOnlyList<string>? b) =>
        a is null ? b is null : b is not null && a.SequenceEqual(b, StringComparer.Ordinal);

    /// <summary>"architecture", "input_shape", "classes" and "parameters" of <paramref name="model"/>, after <paramref name="prefix"/>.</summary>
    private static void AddDescription(Sequential model, string prefix, Dictionary<string, string> metadata)
    {
        metadata[prefix + "architecture"] = ArchitectureJson(model);
        metadata[prefix + "input_shape"] = ShapeText(model.InputShape);
        metadata[prefix + "classes"] = model.Classes.ToString(CultureInfo.InvariantCulture);
        metadata[prefix + "parameters"] = model.ParameterCount.ToString(CultureInfo.InvariantCulture);
        if (model.ClassNames is { } names)
        {
            metadata[prefix + ClassNamesKey] = ClassNamesText(names);
        }
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

    /// <summary>The "architecture" metadata of <paramref name="model"/>: its <see cref="Architecture.ArchitectureJson"/> list.</summary>
    public static string ArchitectureJson(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Convnet.Architecture.ArchitectureJson.Write(model.Layers);
    }
}
