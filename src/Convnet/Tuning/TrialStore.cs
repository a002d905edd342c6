using System.Globalization;
using System.Text;
using System.Text.Json;
using Convnet.IO;
using Convnet.Models;

namespace Convnet.Tuning;

/// <summary>A search directory that belongs to another search, or a damaged trial file in it.</summary>
public sealed class SearchDirectoryException(string message) : Exception(message);

/// <summary>
/// A search's directory: <c>search.json</c> records what the search is (its fingerprint: space,
/// strategy, evaluation, data, seed), and <c>trials/</c> keeps every finished trial as its own small
/// JSON file, written atomically (<see cref="AtomicFile"/>), so a search run again skips them. A
/// directory of another search is refused rather than mixed (<see cref="Open"/>).
/// </summary>
public sealed class TrialStore
{
    /// <summary>The file that records the search's fingerprint.</summary>
    public const string SearchFile = "search.json";

    /// <summary>The folder of trial files.</summary>
    public const string TrialsFolder = "trials";

    // Specs and settings stay readable: no \u0022 for quotes (the files are never embedded in HTML).
    private static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private TrialStore(string directory) => Directory = directory;

    /// <summary>The search directory.</summary>
    public string Directory { get; }

    /// <summary>
    /// Opens (creating when needed) <paramref name="directory"/> for the search whose settings are
    /// <paramref name="fingerprint"/>; a directory that records another search is refused naming what differs.
    /// </summary>
    /// <exception cref="SearchDirectoryException">The directory holds another search's trials, or its search.json is damaged.</exception>
    public static TrialStore Open(string directory, IReadOnlyDictionary<string, string> fingerprint)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(fingerprint);
        string file = Path.Combine(directory, SearchFile);
        if (File.Exists(file))
        {
            var recorded = ReadFingerprint(file);
            foreach (var (key, value) in fingerprint)
            {
                string there = recorded.TryGetValue(key, out var v) ? v : "(not recorded)";
                if (there != value)
                {
                    throw new SearchDirectoryException($"{directory} holds another search ({key} is {Shorten(there)} there, {Shorten(value)} here); run the same command to continue it, or give another --out");
                }
            }
        }
        else if (System.IO.Directory.Exists(directory) && System.IO.Directory.EnumerateFileSystemEntries(directory).Any())
        {
            // Not ours: its files could be overwritten by the leaderboard, the report or the model.
            throw new SearchDirectoryException($"{directory} is not empty and holds no {SearchFile}; give a new or empty folder");
        }
        System.IO.Directory.CreateDirectory(Path.Combine(directory, TrialsFolder));
        if (!File.Exists(file))
        {
            AtomicFile.WriteAllText(file, WriteFingerprint(fingerprint));
        }
        return new TrialStore(directory);
    }

    private static string Shorten(string text) => text.Length <= 80 ? $"'{text}'" : $"'{text[..77]}...'";

    private static Dictionary<string, string> ReadFingerprint(string file)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(file));
            return document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new SearchDirectoryException($"{file} is damaged ({e.Message.Split(" LineNumber", 2)[0]}); give another --out or delete it");
        }
    }

    private static string WriteFingerprint(IReadOnlyDictionary<string, string> fingerprint)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in fingerprint)
            {
                writer.WriteString(key, value);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>The file of trial <paramref name="index"/> in rung <paramref name="rung"/>.</summary>
    public string PathOf(int rung, int index) => Path.Combine(Directory, TrialsFolder,
        rung == 0 ? string.Create(CultureInfo.InvariantCulture, $"trial-{index:D4}.json") : string.Create(CultureInfo.InvariantCulture, $"trial-{index:D4}-rung{rung}.json"));

    /// <summary>The finished result of <paramref name="trial"/> in rung <paramref name="rung"/>, or null when it has not finished.</summary>
    /// <exception cref="SearchDirectoryException">The file is damaged or records another point.</exception>
    public TrialResult? Load(Trial trial, int rung, IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(trial);
        string path = PathOf(rung, trial.Index);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = document.RootElement;
            var parameters = root.GetProperty("parameters");
            for (int i = 0; i < names.Count; i++)
            {
                if (parameters.GetProperty(names[i]).GetString() != trial.Point[i])
                {
                    throw new SearchDirectoryException($"{path} records another point than trial {trial.Index}'s ({names[i]} {parameters.GetProperty(names[i]).GetString()}, not {trial.Point[i]}); give another --out");
                }
            }
            var folds = root.GetProperty("folds").EnumerateArray().Select(f => new FoldResult(
                Number(f.GetProperty("val_accuracy")),
                Number(f.GetProperty("val_loss")),
                f.GetProperty("epochs").GetInt32(),
                Number(f.GetProperty("seconds")),
                [.. f.GetProperty("history").EnumerateArray().Select(e => new EpochLog(
                    e[0].GetInt32(), Number(e[1]), Number(e[2]), Number(e[3]), Number(e[4]), Number(e[5]), Number(e[6])))])).ToList();
            string? failure = root.TryGetProperty("failure", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            return new TrialResult(trial, rung, root.GetProperty("epochs").GetInt32(), ulong.Parse(root.GetProperty("seed").GetRawText(), CultureInfo.InvariantCulture), folds, failure);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or IndexOutOfRangeException)
        {
            throw new SearchDirectoryException($"{path} is damaged ({e.Message.Split(" LineNumber", 2)[0]}); delete it to run the trial again");
        }
    }

    private static double Number(JsonElement e) => e.ValueKind == JsonValueKind.Null ? double.NaN : e.GetDouble();

    /// <summary>Writes <paramref name="result"/>'s file atomically.</summary>
    public void Save(TrialResult result, IReadOnlyList<string> names, IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(result);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            writer.WriteStartObject();
            writer.WriteNumber("trial", result.Trial.Index);
            writer.WriteNumber("rung", result.Rung);
            writer.WriteNumber("epochs", result.Epochs);
            writer.WriteNumber("seed", result.Seed);
            writer.WriteStartObject("parameters");
            for (int i = 0; i < names.Count; i++)
            {
                writer.WriteString(names[i], result.Trial.Point[i]);
            }
            writer.WriteEndObject();
            writer.WriteStartObject("settings");
            foreach (var (key, value) in settings)
            {
                writer.WriteString(key, value);
            }
            writer.WriteEndObject();
            if (result.Failure is { } failure)
            {
                writer.WriteString("failure", failure);
            }
            if (result.Succeeded)
            {
                Write(writer, "val_accuracy_mean", result.MeanAccuracy);
                Write(writer, "val_accuracy_std", result.StdAccuracy);
                Write(writer, "val_loss_mean", result.MeanLoss);
                Write(writer, "val_loss_std", result.StdLoss);
            }
            writer.WriteStartArray("folds");
            foreach (var fold in result.Folds)
            {
                writer.WriteStartObject();
                Write(writer, "val_accuracy", fold.ValidationAccuracy);
                Write(writer, "val_loss", fold.ValidationLoss);
                writer.WriteNumber("epochs", fold.Epochs);
                Write(writer, "seconds", fold.Seconds);
                // Each epoch: epoch, loss, accuracy, val_loss, val_accuracy, learning_rate, seconds.
                writer.WriteStartArray("history");
                foreach (var e in fold.History)
                {
                    writer.WriteStartArray();
                    writer.WriteNumberValue(e.Epoch);
                    foreach (double x in (ReadOnlySpan<double>)[e.Loss, e.Accuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate, e.Seconds])
                    {
                        WriteValue(writer, x);
                    }
                    writer.WriteEndArray();
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        AtomicFile.WriteAllBytes(PathOf(result.Rung, result.Trial.Index), buffer.ToArray());
    }

    private static void Write(Utf8JsonWriter writer, string name, double x)
    {
        writer.WritePropertyName(name);
        WriteValue(writer, x);
    }

    // JSON has no NaN or infinity: they are written as null and read back as NaN.
    private static void WriteValue(Utf8JsonWriter writer, double x)
    {
        if (double.IsFinite(x))
        {
            writer.WriteNumberValue(x);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
