using System.Text;
using System.Text.Json;
using Convnet.Layers;

namespace Convnet.Architecture;

/// <summary>
/// The architecture as a JSON list, one object per layer with its type and config as strings:
/// [{"type": "Conv2D", "filters": "32", "kernel_size": "3", ...}, ...]. Model files keep it in
/// their "architecture" metadata, and <c>--arch</c> reads it from a .json file.
/// </summary>
public static class ArchitectureJson
{
    /// <summary>The JSON list of <paramref name="layers"/>.</summary>
    public static string Write(IEnumerable<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var layer in layers)
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

    /// <summary>Fresh, unbuilt layers from a JSON list, made by <see cref="LayerRegistry"/>.</summary>
    /// <exception cref="FormatException">Not a list of objects with string fields, an unknown type, or a bad setting.</exception>
    /// <exception cref="JsonException">Not JSON.</exception>
    public static IReadOnlyList<Layer> Read(string json)
    {
        var layers = new List<Layer>();
        foreach (var (type, config) in ReadEntries(json))
        {
            try
            {
                layers.Add(LayerRegistry.Create(type, config));
            }
            catch (ArgumentException e)
            {
                throw new FormatException(e.Message.Split(" (Parameter", 2)[0].TrimEnd('.'), e);
            }
        }
        return layers;
    }

    /// <summary>The (type, config) pairs of a JSON list, before any layer is made.</summary>
    public static IReadOnlyList<(string Type, IReadOnlyDictionary<string, string> Config)> ReadEntries(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("the architecture is not a JSON array");
        }
        var layers = new List<(string, IReadOnlyDictionary<string, string>)>();
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
}
