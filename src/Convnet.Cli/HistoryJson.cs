using System.Globalization;
using System.Text;
using System.Text.Json;
using Convnet.Cli.Visualization;
using Convnet.Models;
using Convnet.IO;

namespace Convnet.Cli;

/// <summary>
/// The per-epoch history as a JSON array of objects, for the model file's metadata, wall time
/// included (so two runs with the same seed differ in these timings only).
/// </summary>
internal static class HistoryJson
{
    public const string CsvHeader = "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds";

    public static string Write(History history) => Write(history.Epochs);

    public static string Write(IReadOnlyList<EpochLog> epochs)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var e in epochs)
            {
                json.WriteStartObject();
                json.WriteNumber("epoch", e.Epoch);
                Number(json, "loss", e.Loss);
                Number(json, "accuracy", e.Accuracy);
                Number(json, "val_loss", e.ValidationLoss);
                Number(json, "val_accuracy", e.ValidationAccuracy);
                Number(json, "learning_rate", e.LearningRate);
                Number(json, "seconds", e.Seconds);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads what <see cref="Write(History)"/> wrote (null and missing numbers are NaN); null if it is not such an array.</summary>
    public static IReadOnlyList<EpochLog>? Read(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                return null;
            }
            var epochs = new List<EpochLog>();
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object)
                {
                    return null;
                }
                double epoch = Get(e, "epoch");
                if (!double.IsFinite(epoch))
                {
                    return null;
                }
                epochs.Add(new EpochLog((int)epoch, Get(e, "loss"), Get(e, "accuracy"), Get(e, "val_loss"), Get(e, "val_accuracy"), Get(e, "learning_rate"), Get(e, "seconds")));
            }
            return epochs;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The history as CSV, one row per epoch; a missing value (no validation data) is an empty field.</summary>
    public static string ToCsv(IReadOnlyList<EpochLog> epochs)
    {
        var sb = new StringBuilder(CsvHeader).Append('\n');
        foreach (var e in epochs)
        {
            sb.Append(e.Epoch.ToString(CultureInfo.InvariantCulture));
            foreach (double value in new[] { e.Loss, e.Accuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate, e.Seconds })
            {
                sb.Append(',');
                if (double.IsFinite(value))
                {
                    sb.Append(value.ToString("R", CultureInfo.InvariantCulture));
                }
            }
            sb.Append('\n');
        }
        return sb.ToString();
    }

    public static void WriteCsv(string path, IReadOnlyList<EpochLog> epochs) => AtomicFile.WriteAllText(path, ToCsv(epochs));

    /// <summary>The histories of an ensemble's members as one CSV: <see cref="CsvHeader"/> after a first column 'member' (from 0), member by member.</summary>
    public static string ToCsv(IReadOnlyList<IReadOnlyList<EpochLog>> members)
    {
        var sb = new StringBuilder("member,").Append(CsvHeader).Append('\n');
        for (int k = 0; k < members.Count; k++)
        {
            string rows = ToCsv(members[k]);
            foreach (var row in rows[(rows.IndexOf('\n', StringComparison.Ordinal) + 1)..].Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                sb.Append(k.ToString(CultureInfo.InvariantCulture)).Append(',').Append(row).Append('\n');
            }
        }
        return sb.ToString();
    }

    public static void WriteCsv(string path, IReadOnlyList<IReadOnlyList<EpochLog>> members) => AtomicFile.WriteAllText(path, ToCsv(members));

    private static double Get(JsonElement e, string name) =>
        e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : double.NaN;

    private static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, Math.Round(value, 6));
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
