using System.Text;
using System.Text.Json;
using Convnet.Models;

namespace Convnet.Cli;

/// <summary>
/// The per-epoch history as a JSON array of objects, for the model file's metadata. Timings are
/// left out so that the same data and seed give a byte-identical file.
/// </summary>
internal static class HistoryJson
{
    public static string Write(History history)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var e in history.Epochs)
            {
                json.WriteStartObject();
                json.WriteNumber("epoch", e.Epoch);
                Number(json, "loss", e.Loss);
                Number(json, "accuracy", e.Accuracy);
                Number(json, "val_loss", e.ValidationLoss);
                Number(json, "val_accuracy", e.ValidationAccuracy);
                Number(json, "learning_rate", e.LearningRate);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

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
