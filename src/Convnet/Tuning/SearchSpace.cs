using System.Globalization;
using System.Text;
using System.Text.Json;
using Convnet.Runtime;
using Convnet.Training;

namespace Convnet.Tuning;

/// <summary>One varied parameter of a search: a <see cref="TunableOptions"/> option, or a hole <c>arch{k}</c> of an <see cref="ArchTemplate"/>.</summary>
/// <param name="Name">The option's name without dashes, or <c>arch{k}</c>.</param>
/// <param name="Domain">Its values.</param>
public sealed record SearchParameter(string Name, Domain Domain);

/// <summary>
/// What a search varies and what it holds fixed, over <c>convnet train</c>'s options
/// (<see cref="TunableOptions"/>). Read from JSON (<see cref="Parse"/>): an object from an option's name
/// to a list of values (<c>"batch-size": [64, 128]</c>), a range (<c>"lr": {"min": 0.0003, "max": 0.01,
/// "log": true}</c>; whole numbers for whole-number options), or one value; <c>"arch"</c> may be a
/// template with holes (<see cref="ArchTemplate"/>). Every value is checked as <c>convnet train</c> checks
/// the option, and a problem is reported at its token (<see cref="SearchSpaceException.Offset"/>).
/// </summary>
public sealed class SearchSpace
{
    private SearchSpace(IReadOnlyList<SearchParameter> parameters, IReadOnlyList<KeyValuePair<string, string>> fixedValues, ArchTemplate? template, int templateIndex)
    {
        Parameters = parameters;
        Fixed = fixedValues;
        Template = template;
        _templateIndex = templateIndex;
    }

    private readonly int _templateIndex;

    /// <summary>The varied parameters in the space's order (a template's holes where "arch" stands).</summary>
    public IReadOnlyList<SearchParameter> Parameters { get; }

    /// <summary>Options every trial trains with (one value each): option name → canonical text.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Fixed { get; }

    /// <summary>The architecture template whose holes are parameters <c>arch{k}</c>, or null.</summary>
    public ArchTemplate? Template { get; }

    /// <summary>The number of points of a grid over the space, or null when a parameter is a range of real numbers.</summary>
    public long? GridSize
    {
        get
        {
            long size = 1;
            foreach (var p in Parameters)
            {
                if (p.Domain.Values is not { } values)
                {
                    return null;
                }
                size = checked(size * values.Count);
            }
            return size;
        }
    }

    /// <summary>The space as canonical JSON: what a search directory records to recognise its space.</summary>
    public string Describe()
    {
        var parts = Parameters.Select(p => $"{JsonSerializer.Serialize(p.Name)}:{p.Domain.Describe()}").ToList();
        if (Template is not null)
        {
            parts.Insert(0, $"\"arch\":{JsonSerializer.Serialize(Template.Text)}");
        }
        parts.AddRange(Fixed.Select(f => $"{JsonSerializer.Serialize(f.Key)}:{JsonSerializer.Serialize(f.Value)}"));
        return "{" + string.Join(",", parts) + "}";
    }

    /// <summary>Reads a space (see the class summary); <paramref name="fixedOptions"/> are options given once for every trial (option name → text, as on the command line).</summary>
    /// <exception cref="SearchSpaceException">Malformed JSON, an unknown or unsearchable option, a value the option does not take, or an option given twice.</exception>
    public static SearchSpace Parse(string json, IEnumerable<KeyValuePair<string, string>>? fixedOptions = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        int CharOffset(long byteOffset) => Encoding.UTF8.GetCharCount(bytes, 0, (int)byteOffset);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var entries = new List<(string Name, Domain? Domain, string? Single, ArchTemplate? Template)>();
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new SearchSpaceException("the space must be a JSON object such as {\"lr\": [0.001, 0.003], \"batch-size\": [64, 128]}", null, reader.TokenType == JsonTokenType.None ? 0 : CharOffset(reader.TokenStartIndex));
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                string name = reader.GetString()!;
                int nameAt = CharOffset(reader.TokenStartIndex);
                var option = TunableOptions.Find(name) ?? throw new SearchSpaceException(TunableOptions.Unknown(name), null, nameAt);
                if (entries.Any(e => e.Name == name))
                {
                    throw new SearchSpaceException("given twice", name, nameAt);
                }
                reader.Read();
                int valueAt = CharOffset(reader.TokenStartIndex);
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartArray:
                        entries.Add((name, ReadList(ref reader, option, CharOffset), null, null));
                        break;
                    case JsonTokenType.StartObject:
                        entries.Add((name, ReadRange(ref reader, option, valueAt, CharOffset), null, null));
                        break;
                    case JsonTokenType.String when name == "arch" && ArchTemplate.IsTemplate(reader.GetString()!):
                        entries.Add((name, null, null, ReadTemplate(reader.GetString()!, valueAt + 1)));
                        break;
                    default:
                        entries.Add((name, null, ReadValue(ref reader, option, CharOffset), null));
                        break;
                }
            }
            if (reader.Read())
            {
                throw new SearchSpaceException("text after the space's closing '}'", null, CharOffset(reader.TokenStartIndex));
            }
        }
        catch (JsonException e)
        {
            string message = e.Message.Split(" LineNumber:", 2)[0].TrimEnd();
            int offset = reader.TokenType == JsonTokenType.None ? 0 : CharOffset(Math.Min(bytes.Length, reader.BytesConsumed));
            throw new SearchSpaceException($"not valid JSON: {message}", null, OffsetOf(json, e.LineNumber, e.BytePositionInLine) ?? offset);
        }
        foreach (var (name, value) in fixedOptions ?? [])
        {
            if (entries.Any(e => e.Name == name))
            {
                throw new SearchSpaceException($"is in the space and also given as --{name}; give it in one place", name);
            }
            var option = TunableOptions.Find(name) ?? throw new SearchSpaceException(TunableOptions.Unknown(name), null);
            if (name == "arch" && ArchTemplate.IsTemplate(value))
            {
                entries.Add((name, null, null, ReadTemplate(value, 0)));
                continue;
            }
            if (option.Problem(value) is { } problem)
            {
                throw new SearchSpaceException(problem, name);
            }
            entries.Add((name, null, value, null));
        }
        var parameters = new List<SearchParameter>();
        var fixedValues = new List<KeyValuePair<string, string>>();
        ArchTemplate? template = null;
        int templateIndex = -1;
        foreach (var (name, domain, single, archTemplate) in entries)
        {
            if (archTemplate is not null)
            {
                template = archTemplate;
                templateIndex = parameters.Count;
                parameters.AddRange(archTemplate.Holes.Select((h, k) => new SearchParameter(ArchTemplate.HoleName(k), h.Domain)));
            }
            else if (domain is not null)
            {
                parameters.Add(new SearchParameter(name, domain));
            }
            else
            {
                fixedValues.Add(new(name, single!));
            }
        }
        return new SearchSpace(parameters, fixedValues, template, templateIndex);
    }

    private static int? OffsetOf(string text, long? line, long? bytePosition)
    {
        if (line is not { } l || bytePosition is not { } b)
        {
            return null;
        }
        int start = 0;
        for (long i = 0; i < l; i++)
        {
            int next = text.IndexOf('\n', start);
            if (next < 0)
            {
                return null;
            }
            start = next + 1;
        }
        int end = text.IndexOf('\n', start);
        string lineText = end < 0 ? text[start..] : text[start..end];
        byte[] lineBytes = Encoding.UTF8.GetBytes(lineText);
        return start + Encoding.UTF8.GetCharCount(lineBytes, 0, (int)Math.Min(b, lineBytes.Length));
    }

    private static ArchTemplate ReadTemplate(string text, int offset)
    {
        try
        {
            return ArchTemplate.Parse(text);
        }
        catch (SearchSpaceException e)
        {
            throw new SearchSpaceException(e.Problem, "arch", offset + Math.Max(0, e.Offset));
        }
    }

    /// <summary>One value at the reader: a number for a number option (a whole one for whole-number options), a string for a text option; checked.</summary>
    private static string ReadValue(ref Utf8JsonReader reader, TunableOption option, Func<long, int> charOffset)
    {
        int at = charOffset(reader.TokenStartIndex);
        string value;
        if (option.Kind == OptionKind.Text)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new SearchSpaceException($"needs text (a JSON string), got {Token(ref reader)}", option.Name, at);
            }
            value = reader.GetString()!;
            if (option.Name == "arch" && ArchTemplate.IsTemplate(value))
            {
                throw new SearchSpaceException("a template with holes must be the value of \"arch\" alone, not in a list", option.Name, at);
            }
        }
        else
        {
            if (reader.TokenType != JsonTokenType.Number)
            {
                throw new SearchSpaceException($"needs a number, got {Token(ref reader)}", option.Name, at);
            }
            double x = reader.GetDouble();
            value = ValueRange.Format(x);
        }
        if (option.Problem(value) is { } problem)
        {
            throw new SearchSpaceException(problem, option.Name, at);
        }
        return value;
    }

    private static string Token(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => JsonSerializer.Serialize(reader.GetString()),
        JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null => Encoding.UTF8.GetString(reader.ValueSpan),
        JsonTokenType.StartArray => "a list",
        JsonTokenType.StartObject => "an object",
        _ => reader.TokenType.ToString(),
    };

    private static ValueList ReadList(ref Utf8JsonReader reader, TunableOption option, Func<long, int> charOffset)
    {
        int at = charOffset(reader.TokenStartIndex);
        var values = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            int valueAt = charOffset(reader.TokenStartIndex);
            if (reader.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject)
            {
                throw new SearchSpaceException($"a list holds single values, not {Token(ref reader)}", option.Name, valueAt);
            }
            string value = ReadValue(ref reader, option, charOffset);
            if (values.Contains(value))
            {
                throw new SearchSpaceException($"{value} is listed twice", option.Name, valueAt);
            }
            values.Add(value);
        }
        if (values.Count == 0)
        {
            throw new SearchSpaceException("an empty list; give at least one value", option.Name, at);
        }
        return new ValueList(values, option.Kind != OptionKind.Text);
    }

    private static ValueRange ReadRange(ref Utf8JsonReader reader, TunableOption option, int at, Func<long, int> charOffset)
    {
        if (option.Kind == OptionKind.Text)
        {
            throw new SearchSpaceException("takes a list of values, not a range (ranges are for numbers)", option.Name, at);
        }
        double? min = null, max = null;
        bool log = false;
        int minAt = at, maxAt = at;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            int keyAt = charOffset(reader.TokenStartIndex);
            reader.Read();
            int valueAt = charOffset(reader.TokenStartIndex);
            switch (key)
            {
                case "min" or "max":
                    if (reader.TokenType != JsonTokenType.Number)
                    {
                        throw new SearchSpaceException($"{key} needs a number, got {Token(ref reader)}", option.Name, valueAt);
                    }
                    string text = ValueRange.Format(reader.GetDouble());
                    if (option.Problem(text) is { } problem)
                    {
                        throw new SearchSpaceException($"{key} {problem}", option.Name, valueAt);
                    }
                    if (key == "min")
                    {
                        (min, minAt) = (reader.GetDouble(), valueAt);
                    }
                    else
                    {
                        (max, maxAt) = (reader.GetDouble(), valueAt);
                    }
                    break;
                case "log":
                    log = reader.TokenType switch
                    {
                        JsonTokenType.True => true,
                        JsonTokenType.False => false,
                        _ => throw new SearchSpaceException($"log needs true or false, got {Token(ref reader)}", option.Name, valueAt),
                    };
                    break;
                default:
                    reader.Skip();
                    throw new SearchSpaceException($"unknown key \"{key}\" in a range (keys: min, max, log)", option.Name, keyAt);
            }
        }
        if (min is not { } low || max is not { } high)
        {
            throw new SearchSpaceException($"a range needs both min and max, e.g. {{\"min\": 0.0003, \"max\": 0.01, \"log\": true}}", option.Name, at);
        }
        if (low > high)
        {
            throw new SearchSpaceException($"min {ValueRange.Format(low)} is above max {ValueRange.Format(high)}", option.Name, minAt);
        }
        if (log && !(low > 0))
        {
            throw new SearchSpaceException($"a log range needs min > 0, got {ValueRange.Format(low)}", option.Name, minAt);
        }
        _ = maxAt;
        return new ValueRange(low, high, log, option.Kind == OptionKind.Integer);
    }

    /// <summary>
    /// The option values of a point (one value per <see cref="Parameters"/> entry, in order): the fixed
    /// options, the varied ones, and "arch" filled from the template's holes.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> OptionValues(IReadOnlyList<string> point)
    {
        ArgumentNullException.ThrowIfNull(point);
        if (point.Count != Parameters.Count)
        {
            throw new ArgumentException($"{point.Count} values for {Parameters.Count} parameters.", nameof(point));
        }
        var values = new List<KeyValuePair<string, string>>(Fixed);
        int holes = Template?.Holes.Count ?? 0;
        for (int i = 0; i < point.Count; i++)
        {
            if (Template is not null && i == _templateIndex)
            {
                values.Add(new("arch", Template.Fill([.. point.Skip(i).Take(holes)])));
                i += holes - 1;
                continue;
            }
            values.Add(new(Parameters[i].Name, point[i]));
        }
        return values;
    }

    /// <summary>The training settings of a point (see <see cref="TunableOptions.Settings"/>).</summary>
    public TrainingSettings Settings(IReadOnlyList<string> point, string defaultArchitecture) => TunableOptions.Settings(OptionValues(point), defaultArchitecture);

    /// <summary>A point drawn from <paramref name="rng"/>: each parameter in order.</summary>
    public string[] Sample(ref Rng rng)
    {
        var point = new string[Parameters.Count];
        for (int i = 0; i < point.Length; i++)
        {
            point[i] = Parameters[i].Domain.Sample(ref rng);
        }
        return point;
    }

    /// <summary>Every point of the grid, the first parameter varying slowest (nested loops in the space's order).</summary>
    /// <exception cref="InvalidOperationException">A parameter is a range of real numbers.</exception>
    public IEnumerable<string[]> Grid()
    {
        var lists = Parameters.Select(p => p.Domain.Values ?? throw new InvalidOperationException($"\"{p.Name}\" is a range of real numbers, which a grid cannot list")).ToArray();
        long size = GridSize ?? 0;
        for (long n = 0; n < size; n++)
        {
            var point = new string[lists.Length];
            long rest = n;
            for (int i = lists.Length - 1; i >= 0; i--)
            {
                point[i] = lists[i][(int)(rest % lists[i].Count)];
                rest /= lists[i].Count;
            }
            yield return point;
        }
    }

    /// <summary>A readable point: "lr 0.003, batch-size 64".</summary>
    public string Format(IReadOnlyList<string> point) => string.Join(", ", Parameters.Select((p, i) => string.Create(CultureInfo.InvariantCulture, $"{p.Name} {point[i]}")));
}
