using System.Buffers;
using System.Text.Json;
using Convnet.Architecture;
using Convnet.Images;
using Convnet.Models;

namespace Convnet.Serve;

/// <summary>The answer of GET /v1/model, written once when the server is made.</summary>
internal static class ModelDescription
{
    public static byte[] Write(IClassifier model, IReadOnlyDictionary<string, string> metadata, string modelName, ServeOptions options, ModelPool pool)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var json = new Utf8JsonWriter(buffer, JsonOutput.Options))
        {
            var shape = model.InputShape;
            json.WriteStartObject();
            json.WriteString("name", modelName);
            var members = model is Ensemble ensemble ? ensemble.Members : model is Sequential one ? [one] : [];
            json.WriteString("kind", model is Ensemble ? "ensemble" : "sequential");
            json.WriteNumber("members", members.Count);
            json.WriteStartArray("input_shape");
            json.WriteNumberValue(shape.Height);
            json.WriteNumberValue(shape.Width);
            json.WriteNumberValue(shape.Channels);
            json.WriteEndArray();
            json.WriteNumber("classes", model.Classes);
            json.WriteStartArray("labels");
            for (int c = 0; c < model.Classes; c++)
            {
                json.WriteStringValue(model.ClassName(c));
            }
            json.WriteEndArray();
            json.WriteBoolean("named_classes", model.ClassNames is not null);
            json.WriteBoolean("digit_preprocessing", PictureInput.IsDigitModel(model));
            json.WriteNumber("parameters", model.ParameterCount);
            if (members.Count > 0)
            {
                json.WriteString("architecture", metadata.TryGetValue("arch_spec", out var spec) ? spec : ArchitectureSpec.Format(members[0].Layers));
                json.WriteStartArray("layers");
                foreach (var layer in members[0].Layers)
                {
                    json.WriteStartObject();
                    json.WriteString("name", layer.Name);
                    json.WriteString("type", layer.TypeName);
                    json.WriteString("output_shape", layer.OutputShape.ToString());
                    json.WriteNumber("parameters", layer.ParameterCount);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            json.WriteStartObject("metadata");
            foreach (var (key, value) in metadata.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }
            json.WriteEndObject();
            json.WriteStartObject("limits");
            json.WriteNumber("max_body_bytes", options.MaxBodyBytes);
            json.WriteNumber("max_image_pixels", options.MaxImagePixels);
            json.WriteNumber("max_batch_images", options.MaxBatchImages);
            json.WriteNumber("request_timeout_seconds", options.RequestTimeout.TotalSeconds);
            json.WriteNumber("max_concurrent_requests", options.MaxConcurrentRequests);
            json.WriteNumber("instances", pool.Count);
            json.WriteNumber("threads_per_instance", options.ThreadCount);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
