using System.Globalization;
using Convnet.Architecture;
using Convnet.Data;
using Convnet.Optimizers;
using Convnet.Training;

namespace Convnet.Tuning;

/// <summary>What values a searchable option takes.</summary>
public enum OptionKind
{
    /// <summary>Whole numbers (epochs, batch size, patiences): lists or integer ranges.</summary>
    Integer,
    /// <summary>Real numbers (rates, fractions): lists or ranges, uniform or log-uniform.</summary>
    Real,
    /// <summary>Text (architecture, schedule, optimizer, augmentation): lists only.</summary>
    Text,
}

/// <summary>
/// One <c>convnet train</c> option a search may vary, named as the option without its dashes
/// (<c>lr</c>, <c>batch-size</c>), with the check of one value and how a value sets
/// <see cref="TrainingSettings"/>.
/// </summary>
public sealed class TunableOption
{
    private readonly Func<double, string?>? _checkNumber;
    private readonly Func<string, string?>? _checkText;
    private readonly Func<TrainingSettings, string, TrainingSettings> _apply;

    private TunableOption(string name, OptionKind kind, Func<double, string?>? checkNumber, Func<string, string?>? checkText, Func<TrainingSettings, string, TrainingSettings> apply)
    {
        (Name, Kind, _checkNumber, _checkText, _apply) = (name, kind, checkNumber, checkText, apply);
    }

    /// <summary>The option's name without dashes, as in a search space.</summary>
    public string Name { get; }

    /// <summary>Whether it takes whole numbers, real numbers or text.</summary>
    public OptionKind Kind { get; }

    /// <summary>Why <paramref name="value"/> (in the option's canonical text) is not a value of this option, or null when it is.</summary>
    public string? Problem(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (Kind == OptionKind.Text)
        {
            return _checkText?.Invoke(value);
        }
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) || !double.IsFinite(x))
        {
            return $"needs a number, got '{value}'";
        }
        if (Kind == OptionKind.Integer && (x != Math.Floor(x) || Math.Abs(x) > int.MaxValue))
        {
            return $"needs a whole number, got {value}";
        }
        return _checkNumber?.Invoke(x);
    }

    /// <summary><paramref name="settings"/> with this option set to <paramref name="value"/> (checked by <see cref="Problem"/>).</summary>
    public TrainingSettings Apply(TrainingSettings settings, string value) => _apply(settings, value);

    internal static TunableOption Integer(string name, int least, Func<TrainingSettings, int, TrainingSettings> apply) => new(
        name, OptionKind.Integer,
        x => x >= least ? null : string.Create(CultureInfo.InvariantCulture, $"must be at least {least}, got {x}"),
        null,
        (s, v) => apply(s, int.Parse(v, NumberStyles.Integer, CultureInfo.InvariantCulture)));

    internal static TunableOption Real(string name, Func<double, string?> check, Func<TrainingSettings, float, TrainingSettings> apply) => new(
        name, OptionKind.Real, check, null,
        (s, v) => apply(s, float.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture)));

    internal static TunableOption Text(string name, Func<string, string?> check, Func<TrainingSettings, string, TrainingSettings> apply) => new(
        name, OptionKind.Text, null, check, apply);
}

/// <summary>
/// The <c>convnet train</c> options a search may vary, and how a set of option values becomes
/// <see cref="TrainingSettings"/>: the recipe <c>arch</c> names (or the default) gives every setting not
/// set, exactly as <c>convnet train</c> does with options left out.
/// </summary>
public static class TunableOptions
{
    private static string? Positive(double x) => x > 0 ? null : string.Create(CultureInfo.InvariantCulture, $"must be positive, got {x}");

    private static string? Fraction(double x) => x >= 0 && x < 1 ? null : string.Create(CultureInfo.InvariantCulture, $"must be in [0, 1), got {x}");

    /// <summary>Every searchable option, in the order of <c>convnet train --help</c>.</summary>
    public static IReadOnlyList<TunableOption> All { get; } =
    [
        TunableOption.Text("arch", ArchProblem, (s, v) => s with { Architecture = v }),
        TunableOption.Integer("epochs", 1, (s, v) => s with { Epochs = v }),
        TunableOption.Integer("batch-size", 1, (s, v) => s with { BatchSize = v }),
        TunableOption.Real("lr", Positive, (s, v) => s with { LearningRate = v }),
        TunableOption.Text("lr-schedule", v => Catch(() => RateSchedule.Parse(v)), (s, v) => s with { Schedule = RateSchedule.Parse(v) }),
        TunableOption.Text("augment", v => Catch(() => Augmentation.Parse(v)), (s, v) => s with { Augmentation = Augmentation.Parse(v) }),
        TunableOption.Text("optimizer", v => OptimizerFactory.Names.Contains(v) ? null : $"must be one of {string.Join(", ", OptimizerFactory.Names)}, got '{v}'", (s, v) => s with { Optimizer = v }),
        TunableOption.Real("weight-decay", Fraction, (s, v) => s with { WeightDecay = v }),
        TunableOption.Real("momentum", Fraction, (s, v) => s with { Momentum = v }),
        TunableOption.Real("label-smoothing", Fraction, (s, v) => s with { LabelSmoothing = v }),
        TunableOption.Real("clip-norm", Positive, (s, v) => s with { ClipNorm = v }),
        TunableOption.Real("ema", Fraction, (s, v) => s with { EmaMomentum = v == 0 ? null : v }),
        TunableOption.Integer("early-stopping", 0, (s, v) => s with { EarlyStopping = v }),
        TunableOption.Integer("reduce-lr-on-plateau", 0, (s, v) => s with { ReduceLrOnPlateau = v }),
    ];

    /// <summary>
    /// <c>convnet train</c>'s options that a search does not vary, with the reason: they say where files
    /// go or how the data is read, or the search sets them itself.
    /// </summary>
    public static IReadOnlyDictionary<string, string> NotSearched { get; } = new Dictionary<string, string>
    {
        ["seed"] = "each trial's seed comes from --seed and the trial's number",
        ["validation-split"] = "the search validates every trial on the same split (--validation-split) or folds (--folds)",
        ["threads"] = "the search shares --threads between its trials",
        ["model"] = "the search writes DIR/best.safetensors",
        ["from"] = "the search trains fresh models",
        ["plot"] = "the search draws DIR/report.html",
        ["history"] = "each trial's history is in DIR/trials",
        ["checkpoint"] = "the search keeps each trial's scores, not its weights",
        ["backup"] = "the search resumes trial by trial from DIR",
        ["ensemble"] = "a trial trains one model",
        ["parallel-members"] = "the search runs trials side by side (--parallel)",
        ["image-size"] = "it says how the data is read; give it as a fixed option",
        ["color-mode"] = "it says how the data is read; give it as a fixed option",
        ["skip-bad-images"] = "it says how the data is read; give it as a fixed option",
    };

    // Names a user may well write for a searchable option.
    private static readonly Dictionary<string, string> Aliases = new()
    {
        ["learning-rate"] = "lr",
        ["learningrate"] = "lr",
        ["rate"] = "lr",
        ["batch"] = "batch-size",
        ["batchsize"] = "batch-size",
        ["schedule"] = "lr-schedule",
        ["augmentation"] = "augment",
        ["architecture"] = "arch",
        ["epoch"] = "epochs",
        ["smoothing"] = "label-smoothing",
        ["decay"] = "weight-decay",
        ["optimiser"] = "optimizer",
    };

    /// <summary>The searchable option called <paramref name="name"/>, or null.</summary>
    public static TunableOption? Find(string name) => All.FirstOrDefault(o => o.Name == name);

    /// <summary>Why <paramref name="name"/> cannot be searched, with a suggestion when it looks like a searchable option's name.</summary>
    public static string Unknown(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (NotSearched.TryGetValue(name, out var reason))
        {
            return $"\"{name}\" is not searched: {reason}";
        }
        if (name.StartsWith('-') && Find(name.TrimStart('-')) is { } dashed)
        {
            return $"unknown option \"{name}\" (write \"{dashed.Name}\", without dashes)";
        }
        if (name.Contains("drop", StringComparison.OrdinalIgnoreCase))
        {
            return $"unknown option \"{name}\" (dropout rates are searched inside \"arch\", e.g. \"...,drop{{0.2..0.5}},...\")";
        }
        string? suggestion = Suggest(name);
        return suggestion is null
            ? $"unknown option \"{name}\"; searchable: {string.Join(", ", All.Select(o => o.Name))}"
            : $"unknown option \"{name}\" (did you mean \"{suggestion}\"?)";
    }

    /// <summary>The searchable option whose name (or a usual other name for it) is closest to <paramref name="name"/>, within 3 edits; null when none is.</summary>
    public static string? Suggest(string name)
    {
        string normal = name.ToLowerInvariant().Replace('_', '-');
        var candidates = All.Select(o => (Name: o.Name, Target: o.Name)).Concat(Aliases.Select(a => (Name: a.Key, Target: a.Value)));
        var best = candidates.Select(c => (c.Target, Distance: Distance(normal, c.Name))).OrderBy(c => c.Distance).First();
        return best.Distance <= Math.Min(3, Math.Max(1, normal.Length / 2)) ? best.Target : null;
    }

    /// <summary>Levenshtein distance.</summary>
    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    /// <summary>
    /// The settings for <paramref name="values"/> (option name → canonical text, each checked): the recipe
    /// that <c>arch</c> names (or <paramref name="defaultArchitecture"/>) for every setting not given, as
    /// <c>convnet train</c> takes them; then each value; with <c>early-stopping</c> and no <c>ema</c>, no moving
    /// average (the best epoch's weights are kept instead).
    /// </summary>
    public static TrainingSettings Settings(IEnumerable<KeyValuePair<string, string>> values, string defaultArchitecture)
    {
        ArgumentNullException.ThrowIfNull(values);
        var list = values.ToList();
        string arch = list.FirstOrDefault(v => v.Key == "arch").Value ?? defaultArchitecture;
        var settings = TrainingSettings.For(arch);
        foreach (var (name, value) in list)
        {
            var option = Find(name) ?? throw new ArgumentException(Unknown(name), nameof(values));
            settings = option.Apply(settings, value);
        }
        if (settings.EarlyStopping is not null && list.All(v => v.Key != "ema"))
        {
            settings = settings with { EmaMomentum = null };
        }
        return settings;
    }

    /// <summary>Why settings made by <see cref="Settings"/> cannot train together (as <c>convnet train</c> refuses them), or null.</summary>
    public static string? Conflict(TrainingSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        static string F(float x) => x.ToString(CultureInfo.InvariantCulture);
        if (s.WeightDecay is { } wd && s.Optimizer != "adamw")
        {
            return $"weight-decay {F(wd)} needs optimizer adamw (got {s.Optimizer})";
        }
        if (s.Momentum is { } m && s.Optimizer is not ("sgd" or "rmsprop"))
        {
            return $"momentum {F(m)} needs optimizer sgd or rmsprop (got {s.Optimizer})";
        }
        if (s.EmaMomentum is not null && s.EarlyStopping is not null)
        {
            return "ema cannot be combined with early-stopping, which keeps the best epoch's weights instead of the average";
        }
        if (s.ReduceLrOnPlateau is not null && s.Schedule == RateSchedule.OneCycle)
        {
            return "reduce-lr-on-plateau cannot be combined with lr-schedule onecycle, which sets the rate of every step";
        }
        return null;
    }

    private static string? ArchProblem(string arch)
    {
        if ((arch.Contains('/') || arch.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) && !File.Exists(arch))
        {
            return $"architecture file '{arch}' not found";
        }
        try
        {
            Architectures.Describe(arch);
            return null;
        }
        catch (ArchitectureSpecException e)
        {
            return arch.All(char.IsAsciiLetter) && e.TokenNumber == 1
                ? $"unknown recipe '{arch}'; known: {string.Join(", ", Architectures.Names)}, or a layer spec or .json file"
                : e.Message;
        }
    }

    private static string? Catch(Action parse)
    {
        try
        {
            parse();
            return null;
        }
        catch (FormatException e)
        {
            return e.Message;
        }
    }
}
