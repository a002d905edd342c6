using System.Text;
using System.Text.Json;
using Convnet.Layers;
using Convnet.Tensors;
using Convnet.Models;

namespace Convnet.Architecture;

/// <summary>
/// A bad architecture spec (or architecture JSON file). <see cref="TokenNumber"/> (1-based) and
/// <see cref="Column"/> (0-based offset of the token in the spec) point at the offending token; both
/// are 0 when the problem is not with one token.
/// </summary>
public sealed class ArchitectureSpecException : FormatException
{
    /// <summary>A spec error; the position arguments default to 0 (not about one token).</summary>
    /// <param name="message">One line naming the source ("arch spec", "architecture JSON" or the file) and the problem.</param>
    /// <param name="tokenNumber">1-based number of the offending token, or 0.</param>
    /// <param name="token">The offending token's text, or null.</param>
    /// <param name="column">0-based offset of the token in the spec, or 0.</param>
    /// <param name="inner">The exception that caused this one, or null.</param>
    public ArchitectureSpecException(string message, int tokenNumber = 0, string? token = null, int column = 0, Exception? inner = null)
        : base(message, inner)
    {
        (TokenNumber, Token, Column) = (tokenNumber, token, column);
    }

    /// <summary>1-based number of the offending token; 0 when the problem is not with one token.</summary>
    public int TokenNumber { get; }
    /// <summary>The offending token's text (a layer's JSON text for architecture JSON); null when the problem is not with one token.</summary>
    public string? Token { get; }
    /// <summary>0-based offset of the offending token in the spec; 0 when the problem is not with one token or not in a one-line spec.</summary>
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
/// Each layer class parses and formats its own token; <see cref="LayerRegistry"/> lists them.
/// <see cref="Build"/> makes a classifier: when the last layer (before an optional softmax) is not a
/// Dense, <c>dense&lt;classes&gt;</c> is appended; when it is, its units must equal the class count; a
/// final Softmax is appended when the spec does not end with one.
/// </summary>
public static class ArchitectureSpec
{
    private readonly record struct Entry(int Token, string Text, int Column, Layer Layer);

    /// <summary>The layers a spec names, in order (fresh, unbuilt), without the classifier ending <see cref="Build"/> adds.</summary>
    public static IReadOnlyList<Layer> Parse(string spec) => [.. ParseEntries(spec).Select(e => e.Layer)];

    /// <summary>A classifier from a spec: the spec's layers, then dense&lt;classes&gt; and softmax where missing.</summary>
    public static Sequential Build(string spec, Shape input, int classes, ulong seed, int threads = 0, string name = "custom")
        => Assemble(ParseEntries(spec), spec, input, classes, seed, threads, name);

    /// <summary>
    /// A classifier from a JSON list of layers (<see cref="ArchitectureJson"/>), as model files keep in their "architecture"
    /// metadata ([{"type": "Conv2D", "filters": "32", ...}, ...]), with the same ending rules as <see cref="Build"/>.
    /// </summary>
    public static Sequential FromJson(string json, Shape input, int classes, ulong seed, int threads = 0, string name = "custom")
        => Assemble(JsonEntries(json), null, input, classes, seed, threads, name);

    /// <summary>The layers of a JSON architecture list (fresh, unbuilt).</summary>
    public static IReadOnlyList<Layer> ParseJson(string json) => [.. JsonEntries(json).Select(e => e.Layer)];

    /// <summary>The spec of a list of layers: <c>Parse(Format(layers))</c> gives the same layers.</summary>
    /// <exception cref="ArgumentException">A layer the spec language cannot say (e.g. a 'bn' without Keras's defaults).</exception>
    public static string Format(IEnumerable<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var sb = new StringBuilder();
        foreach (var layer in layers)
        {
            string part;
            try
            {
                part = layer.FormatToken();
            }
            catch (NotSupportedException e)
            {
                throw new ArgumentException(e.Message, nameof(layers), e);
            }
            bool joins = sb.Length > 0 && layer.JoinsPreviousToken;
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

    private static Layer ParseLayer(string part) => Checked(() => LayerRegistry.Parse(part));

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
            foreach (var layer in ArchitectureJson.Read(json))
            {
                entries.Add(new Entry(entries.Count + 1, layer.TypeName, 0, layer));
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
                    model.Add(e.Layer);
                }
                catch (ArgumentException x)
                {
                    throw Error(spec, e.Token, e.Text, e.Column, $"{e.Layer.TypeName} after output {model.OutputShape}: {x.Message.Split(" (Parameter", 2)[0]}", x);
                }
            }
            if (end == 0 || entries[end - 1].Layer is not Dense)
            {
                if (model.OutputShape.IsImage)
                {
                    throw new ArchitectureSpecException($"{(spec is null ? "architecture JSON" : "arch spec")}: the layers end with an image {model.OutputShape}; add 'flatten' or 'gap' before the classifier");
                }
                model.Add(new Dense(classes));
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

    private static ArchitectureSpecException Error(string? spec, int token, string text, int column, string problem, Exception? inner = null)
    {
        if (spec is null)
        {
            return new ArchitectureSpecException($"architecture JSON: layer {token} '{text}': {problem}", token, text, inner: inner);
        }
        string message = $"arch spec: token {token} '{text}': {problem}";
        if (spec.Length <= 200 && !spec.Contains('\n', StringComparison.Ordinal))
        {
            message += $"\n  {spec}\n  {new string(' ', column)}^";
        }
        return new ArchitectureSpecException(message, token, text, column, inner);
    }
}
