using System.Globalization;
using System.Text;
using System.Text.Json;
using Convnet.Layers;
using Convnet.Tensors;
using Convnet.Models;
using Convnet.Saving;

namespace Convnet.Architecture;

/// <summary>
/// A bad architecture spec (or architecture JSON file). <see cref="TokenNumber"/> (1-based) and
/// <see cref="Column"/> (0-based offset of the token in the spec) point at the offending token; both
/// are 0 when the problem is not with one token.
/// </summary>
public sealed class ArchitectureSpecException : FormatException
{
    public ArchitectureSpecException(string message, int tokenNumber = 0, string? token = null, int column = 0, Exception? inner = null)
        : base(message, inner)
    {
        (TokenNumber, Token, Column) = (tokenNumber, token, column);
    }

    public int TokenNumber { get; }
    public string? Token { get; }
    public int Column { get; }
}

/// <summary>
/// A compact one-line model description, e.g.
/// <c>conv32k3-bn-relu,conv32k5s2same-bn-relu,drop0.4,flatten,dense10</c>: comma-separated tokens,
/// each one or more layers joined by '-':
/// <list type="bullet">
/// <item><c>conv&lt;F&gt;k&lt;K&gt;[s&lt;S&gt;][same|valid]</c>: Conv2D with F filters, a K×K kernel, stride S (1), padding valid unless 'same';</item>
/// <item><c>maxpool&lt;P&gt;[s&lt;S&gt;]</c>, <c>avgpool&lt;P&gt;[s&lt;S&gt;]</c>: P×P pooling with stride S (P);</item>
/// <item><c>gap</c> (global average pooling), <c>bn</c> (batch normalization), <c>relu</c>, <c>flatten</c>, <c>softmax</c>;</item>
/// <item><c>drop&lt;rate&gt;</c>: Dropout, rate in [0, 1); <c>dense&lt;N&gt;</c>: Dense with N units.</item>
/// </list>
/// <see cref="Build"/> makes a classifier: when the last layer (before an optional softmax) is not a
/// Dense, <c>dense&lt;classes&gt;</c> is appended; when it is, its units must equal the class count; a
/// final Softmax is appended when the spec does not end with one.
/// </summary>
public static class ArchitectureSpec
{
    /// <summary>
    /// The most parameters <see cref="Build"/> and <see cref="FromJson"/> make (200 MB of weights,
    /// 800 MB with gradients and Adam's moments; the recipes have under 400,000), checked before
    /// a layer allocates them, so that a typo such as dense1000000 is refused instead of taking
    /// the machine's memory.
    /// </summary>
    public const long MaxParameters = 50_000_000;

    /// <summary>
    /// The most values one layer of a spec may output per sample (16 MB: a batch of 64 holds
    /// 1 GB of each such layer, twice in training; the recipes' largest is 26×26×32 = 21,632).
    /// </summary>
    public const int MaxActivationValues = 4_000_000;

    private readonly record struct Entry(int Token, string Text, int Column, Layer Layer);

    /// <summary>The layers a spec names, in order (fresh, unbuilt), without the classifier ending <see cref="Build"/> adds.</summary>
    public static IReadOnlyList<Layer> Parse(string spec) => [.. ParseEntries(spec).Select(e => e.Layer)];

    /// <summary>A classifier from a spec: the spec's layers, then dense&lt;classes&gt; and softmax where missing.</summary>
    public static Sequential Build(string spec, Shape input, int classes, ulong seed, int threads = 0, string name = "custom")
        => Assemble(ParseEntries(spec), spec, input, classes, seed, threads, name);

    /// <summary>
    /// A classifier from a JSON list of layers, as <see cref="ModelFile"/> writes in its "architecture"
    /// metadata ([{"type": "Conv2D", "filters": "32", ...}, ...]), with the same ending rules as <see cref="Build"/>.
    /// </summary>
    public static Sequential FromJson(string json, Shape input, int classes, ulong seed, int threads = 0, string name = "custom")
        => Assemble(JsonEntries(json), null, input, classes, seed, threads, name);

    /// <summary>The layers of a JSON architecture list (fresh, unbuilt).</summary>
    public static IReadOnlyList<Layer> ParseJson(string json) => [.. JsonEntries(json).Select(e => e.Layer)];

    /// <summary>The spec of a list of layers: <c>Parse(Format(layers))</c> gives the same layers.</summary>
    public static string Format(IEnumerable<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var sb = new StringBuilder();
        foreach (var layer in layers)
        {
            var c = layer.Config;
            string part = layer.TypeName switch
            {
                "Conv2D" => $"conv{c["filters"]}k{c["kernel_size"]}{(c["stride"] == "1" ? "" : "s" + c["stride"])}{(c["padding"] == "same" ? "same" : "")}",
                "MaxPooling2D" => $"maxpool{c["pool_size"]}{(c["stride"] == c["pool_size"] ? "" : "s" + c["stride"])}",
                "AveragePooling2D" => $"avgpool{c["pool_size"]}{(c["stride"] == c["pool_size"] ? "" : "s" + c["stride"])}",
                "GlobalAveragePooling2D" => "gap",
                "BatchNormalization" => "bn",
                "ReLU" => "relu",
                "Softmax" => "softmax",
                "Flatten" => "flatten",
                "Dropout" => $"drop{c["rate"]}",
                "Dense" => $"dense{c["units"]}",
                var other => throw new ArgumentException($"layer type '{other}' has no spec token", nameof(layers)),
            };
            if (layer is BatchNormalization bn && (bn.Config["momentum"] != "0.99" || bn.Config["epsilon"] != "0.001"))
            {
                throw new ArgumentException("a spec's 'bn' has Keras's defaults (momentum 0.99, epsilon 0.001)", nameof(layers));
            }
            // Activations and normalisation join the layer before them; everything else starts a token.
            bool joins = sb.Length > 0 && part is "bn" or "relu" or "softmax";
            sb.Append(sb.Length == 0 ? "" : joins ? "-" : ",").Append(part);
        }
        return sb.ToString();
    }

    private static List<Entry> ParseEntries(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var entries = new List<Entry>();
        int column = 0;
        string[] tokens = spec.Split(',');
        for (int t = 0; t < tokens.Length; t++)
        {
            string raw = tokens[t];
            string token = raw.Trim();
            int tokenColumn = column + (raw.Length - raw.TrimStart().Length);
            column += raw.Length + 1;
            if (token.Length == 0)
            {
                throw Error(spec, t + 1, token, tokenColumn, spec.Trim().Length == 0 ? "the spec is empty" : "empty token (two commas, or a comma at an end)");
            }
            foreach (string part in token.Split('-'))
            {
                if (part.Length == 0)
                {
                    throw Error(spec, t + 1, token, tokenColumn, "empty layer (two '-' in a row, or a '-' at an end)");
                }
                try
                {
                    entries.Add(new Entry(t + 1, token, tokenColumn, ParseLayer(part)));
                }
                catch (FormatException e)
                {
                    throw Error(spec, t + 1, token, tokenColumn, e.Message);
                }
            }
        }
        return entries;
    }

    private static Layer ParseLayer(string part)
    {
        switch (part)
        {
            case "gap": return new GlobalAveragePooling2D();
            case "bn": return new BatchNormalization();
            case "relu": return new ReLU();
            case "flatten": return new Flatten();
            case "softmax": return new Softmax();
        }
        var r = new Reader(part);
        if (r.Take("conv"))
        {
            int filters = r.Int("the number of filters after 'conv'");
            if (!r.Take("k"))
            {
                throw new FormatException(r.AtEnd ? "missing 'k<kernel size>'" : $"expected 'k<kernel size>' at '{r.Rest}'");
            }
            int kernel = r.Int("kernel size after 'k'");
            int stride = !r.Rest.StartsWith("same", StringComparison.Ordinal) && r.Take("s") ? r.Int("stride after 's'") : 1;
            var padding = r.Take("same") ? Padding.Same : r.Take("valid") ? Padding.Valid : Padding.Valid;
            r.End("conv<F>k<K>[s<S>][same|valid]");
            return Checked(() => new Conv2D(filters, kernel, stride, padding));
        }
        if (r.Take("maxpool") || r.Take("avgpool"))
        {
            bool max = part.StartsWith("maxpool", StringComparison.Ordinal);
            int pool = r.Int("pool size");
            int? stride = r.Take("s") ? r.Int("stride after 's'") : null;
            r.End(max ? "maxpool<P>[s<S>]" : "avgpool<P>[s<S>]");
            return Checked<Layer>(() => max ? new MaxPool2D(pool, stride) : new AveragePooling2D(pool, stride));
        }
        if (r.Take("dense"))
        {
            int units = r.Int("the number of units after 'dense'");
            r.End("dense<N>");
            return Checked(() => new Dense(units));
        }
        if (r.Take("drop"))
        {
            string text = r.Rest;
            if (text.Length == 0)
            {
                throw new FormatException("missing rate after 'drop'");
            }
            if (!float.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out float rate) || !(rate < 1))
            {
                throw new FormatException($"dropout rate '{text}' is not a number in [0, 1)");
            }
            return new Dropout(rate);
        }
        throw new FormatException($"unknown layer '{part}' (known: conv<F>k<K>[s<S>][same|valid], maxpool<P>[s<S>], avgpool<P>[s<S>], gap, bn, relu, drop<rate>, flatten, dense<N>, softmax)");
    }

    private static T Checked<T>(Func<T> create)
    {
        try
        {
            return create();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new FormatException(e.Message.Split(" (Parameter", 2)[0].TrimEnd('.'));
        }
    }

    private static List<Entry> JsonEntries(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            var entries = new List<Entry>();
            foreach (var (type, config) in ModelFile.ParseArchitecture(json))
            {
                int n = entries.Count + 1;
                entries.Add(new Entry(n, type, 0, Checked(() => LayerFactory.Create(type, config))));
            }
            if (entries.Count == 0)
            {
                throw new FormatException("the architecture has no layers");
            }
            return entries;
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            throw new ArchitectureSpecException($"architecture JSON: {e.Message}", inner: e);
        }
    }

    private static Sequential Assemble(List<Entry> entries, string? spec, Shape input, int classes, ulong seed, int threads, string name)
    {
        if (classes < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "A classifier needs at least 2 classes.");
        }
        int end = entries.Count > 0 && entries[^1].Layer is Softmax ? entries.Count - 1 : entries.Count;
        if (end > 0 && entries[end - 1].Layer is Dense last && last.Units != classes)
        {
            var e = entries[end - 1];
            throw Error(spec, e.Token, e.Text, e.Column, $"the final dense has {last.Units} units but there are {classes} classes (end the spec without it to have dense{classes} appended)");
        }
        var model = new Sequential(input, seed, threads) { Name = name };
        try
        {
            foreach (var e in entries)
            {
                try
                {
                    if (PastLimits(model, e.Layer) is string problem)
                    {
                        throw Error(spec, e.Token, e.Text, e.Column, $"{e.Layer.TypeName} after output {model.OutputShape} {problem}");
                    }
                    model.Add(e.Layer);
                }
                catch (ArgumentException x)
                {
                    throw Error(spec, e.Token, e.Text, e.Column, $"{e.Layer.TypeName} after output {model.OutputShape}: {x.Message.Split(" (Parameter", 2)[0]}");
                }
            }
            if (end == 0 || entries[end - 1].Layer is not Dense)
            {
                if (model.OutputShape.IsImage)
                {
                    throw new ArchitectureSpecException($"{(spec is null ? "architecture JSON" : "arch spec")}: the layers end with an image {model.OutputShape}; add 'flatten' or 'gap' before the classifier");
                }
                var classifier = new Dense(classes);
                if (PastLimits(model, classifier) is string problem)
                {
                    throw new ArchitectureSpecException($"{(spec is null ? "architecture JSON" : "arch spec")}: the dense{classes} classifier after output {model.OutputShape} {problem}; add pooling or 'gap' before it");
                }
                model.Add(classifier);
            }
            if (model.Layers[^1] is not Softmax)
            {
                model.Add(new Softmax());
            }
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// How adding <paramref name="layer"/> would pass <see cref="MaxActivationValues"/> or
    /// <see cref="MaxParameters"/>, or null; found before the layer allocates anything. A layer
    /// that does not fit its input throws ArgumentException, reported as such rather than by size.
    /// </summary>
    private static string? PastLimits(Sequential model, Layer layer)
    {
        var output = layer.ComputeOutputShape(model.OutputShape);
        if (output.Size > MaxActivationValues)
        {
            return $"would output {output}, {output.Size:N0} values per sample, more than the {MaxActivationValues:N0} a spec may build";
        }
        long total = ParametersAfter(model, layer);
        return total > MaxParameters
            ? $"would bring the model to {total:N0} parameters, more than the {MaxParameters:N0} a spec may build"
            : null;
    }

    /// <summary>
    /// The model's parameter count once <paramref name="layer"/> is added, counted before it
    /// allocates them: Dense and Conv2D hold all but a few of any model's weights.
    /// </summary>
    private static long ParametersAfter(Sequential model, Layer layer)
    {
        var input = model.OutputShape;
        if (layer is not (Dense or Conv2D))
        {
            return model.ParameterCount;
        }
        try
        {
            return checked(model.ParameterCount + layer switch
            {
                Dense dense => ((long)input.Size + 1) * dense.Units,
                Conv2D conv => ((long)conv.KernelSize * conv.KernelSize * input.Channels + 1) * conv.Filters,
                _ => 0,
            });
        }
        catch (OverflowException)
        {
            return long.MaxValue;
        }
    }

    private static ArchitectureSpecException Error(string? spec, int token, string text, int column, string problem)
    {
        if (spec is null)
        {
            return new ArchitectureSpecException($"architecture JSON: layer {token} '{text}': {problem}", token, text);
        }
        string message = $"arch spec: token {token} '{text}': {problem}";
        if (spec.Length <= 200 && !spec.Contains('\n', StringComparison.Ordinal))
        {
            message += $"\n  {spec}\n  {new string(' ', column)}^";
        }
        return new ArchitectureSpecException(message, token, text, column);
    }

    /// <summary>Reads one layer's text left to right.</summary>
    private sealed class Reader(string text)
    {
        private int _at;

        public bool AtEnd => _at == text.Length;
        public string Rest => text[_at..];

        public bool Take(string literal)
        {
            if (_at + literal.Length <= text.Length && string.CompareOrdinal(text, _at, literal, 0, literal.Length) == 0)
            {
                _at += literal.Length;
                return true;
            }
            return false;
        }

        public int Int(string what)
        {
            int start = _at;
            while (_at < text.Length && char.IsAsciiDigit(text[_at]))
            {
                _at++;
            }
            if (_at == start)
            {
                throw new FormatException(AtEnd ? $"missing {what}" : $"expected {what}, found '{Rest}'");
            }
            return int.TryParse(text.AsSpan(start, _at - start), NumberStyles.None, CultureInfo.InvariantCulture, out int value)
                ? value
                : throw new FormatException($"{text[start.._at]} is too large");
        }

        public void End(string form)
        {
            if (!AtEnd)
            {
                throw new FormatException($"unexpected '{Rest}' (the form is {form})");
            }
        }
    }
}
