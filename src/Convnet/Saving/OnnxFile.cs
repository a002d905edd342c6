using System.Globalization;
using Convnet.IO;
using Convnet.IO.Onnx;
using Convnet.Layers;
using Convnet.Models;

namespace Convnet.Saving;

/// <summary>
/// Models as ONNX files (opset 13, IR version 7). The exported graph takes <see cref="InputName"/>:
/// float32 [N, C, H, W] (NCHW, N dynamic) holding the pixel values as the data holds them, 0–255;
/// it divides them by 255 as our data path does, runs each layer's own nodes
/// (<see cref="Layer.ExportOnnx"/>) and returns <see cref="OutputName"/>: float32 [N, classes],
/// the class probabilities (a Softmax is appended to a model that does not end with one). An
/// ensemble is one graph: each member's nodes under "member&lt;k&gt;/", then the Mean of their
/// probabilities. metadata_props carry "class_names" (the model file's JSON array) and the
/// metadata given (e.g. the model file's training settings).
/// </summary>
/// <remarks>
/// Opset 13 is the oldest in which every operator we emit has today's semantics (Softmax over one
/// axis came in 13): the oldest such opset reaches the most runtimes (onnxruntime-web, mobile,
/// Triton, older ONNX Runtime releases).
/// </remarks>
public static class OnnxFile
{
    /// <summary>The default-domain operator set version of exported files.</summary>
    public const int OperatorSetVersion = 13;
    /// <summary>The IR version of exported files (the one that goes with opset 13).</summary>
    public const int IrVersion = 7;
    /// <summary>The graph input: float32 [N, C, H, W], raw pixel values 0–255.</summary>
    public const string InputName = "pixels";
    /// <summary>The graph output: float32 [N, classes], probabilities.</summary>
    public const string OutputName = "probabilities";
    /// <summary>The symbolic batch dimension of the input and output.</summary>
    public const string BatchDimension = "N";
    /// <summary>producer_name of exported files.</summary>
    public const string ProducerName = "convnet";

    // Entries of a model file's metadata that describe the safetensors file itself, not the model.
    private static readonly HashSet<string> FileOnlyKeys = new(StringComparer.Ordinal) { "format", "format_version", SafeTensors.ChecksumKey };

    /// <summary>The ONNX form of <paramref name="model"/> (see the class remarks); <paramref name="metadata"/> goes into metadata_props.</summary>
    /// <exception cref="ArgumentException">The model has no layers, or its output is not a vector of class scores.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form; the message names its kind.</exception>
    public static OnnxModel ToOnnx(this Sequential model, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckClassifier(model, nameof(model));
        var graph = StartGraph(model, "convnet");
        string probabilities = AddProbabilities(graph, model, Scale(graph));
        graph.AddNode("Identity", [probabilities], [OutputName]);
        return Finish(graph, model.ClassNames, metadata);
    }

    /// <summary>The ONNX form of <paramref name="ensemble"/>: every member's graph, then the Mean of their probabilities.</summary>
    /// <exception cref="NotSupportedException">A layer has no ONNX form; the message names its kind.</exception>
    public static OnnxModel ToOnnx(this Ensemble ensemble, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(ensemble);
        var graph = StartGraph(ensemble.Members[0], "convnet_ensemble");
        string pixels = Scale(graph);
        var outputs = new string[ensemble.Members.Count];
        for (int k = 0; k < outputs.Length; k++)
        {
            graph.Prefix = string.Create(CultureInfo.InvariantCulture, $"member{k}/");
            outputs[k] = AddProbabilities(graph, ensemble.Members[k], pixels);
        }
        graph.Prefix = "";
        // Mean over one member would be the identity; ONNX's Mean takes 1 to 2^31 inputs.
        graph.AddNode("Mean", outputs, [OutputName]);
        return Finish(graph, ensemble.ClassNames, metadata);
    }

    /// <summary>The ONNX form of a <see cref="Sequential"/> or an <see cref="Ensemble"/>.</summary>
    /// <exception cref="NotSupportedException">Another kind of classifier, or a layer without an ONNX form.</exception>
    public static OnnxModel ToOnnx(this IClassifier model, IReadOnlyDictionary<string, string>? metadata = null) => model switch
    {
        Sequential sequential => sequential.ToOnnx(metadata),
        Ensemble ensemble => ensemble.ToOnnx(metadata),
        null => throw new ArgumentNullException(nameof(model)),
        _ => throw new NotSupportedException($"Only a Sequential model or an Ensemble can be exported to ONNX, not a {model.GetType().Name}."),
    };

    /// <summary>
    /// Writes <paramref name="model"/>'s ONNX form to <paramref name="path"/> atomically: a failed
    /// export leaves nothing behind and an existing file as it was.
    /// </summary>
    /// <exception cref="NotSupportedException">A layer has no ONNX form; nothing is written.</exception>
    /// <exception cref="IOException">The file cannot be written; the message names <paramref name="path"/>.</exception>
    public static void SaveOnnx(this IClassifier model, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes = model.ToOnnx(metadata).ToBytes();
        AtomicFile.WriteAllBytes(path, bytes);
    }

    private static void CheckClassifier(Sequential model, string argument)
    {
        if (model.Layers.Count == 0)
        {
            throw new ArgumentException("The model has no layers.", argument);
        }
        if (model.OutputShape.IsImage)
        {
            throw new ArgumentException($"The model's output {model.OutputShape} is not a vector of class scores.", argument);
        }
    }

    private static OnnxGraphBuilder StartGraph(Sequential model, string name)
    {
        var graph = new OnnxGraphBuilder(name);
        var input = model.InputShape;
        var batch = OnnxDimension.Symbolic(BatchDimension);
        graph.AddInput(InputName, OnnxDataType.Float, batch, OnnxDimension.Of(input.Channels), OnnxDimension.Of(input.Height), OnnxDimension.Of(input.Width));
        graph.AddOutput(OutputName, OnnxDataType.Float, batch, OnnxDimension.Of(model.Classes));
        return graph;
    }

    // Our data path divides each byte by 255f (Elementwise.BytesToUnit); Div gives the same bits.
    private static string Scale(OnnxGraphBuilder graph)
    {
        string divisor = graph.AddInitializer("pixel_divisor", [], [255f]);
        return graph.AddNode("Div", [InputName, divisor], "scaled_pixels");
    }

    // One model's layers from `input`, then a Softmax when it does not end with one (as Ensemble's probabilities do).
    private static string AddProbabilities(OnnxGraphBuilder graph, Sequential model, string input)
    {
        CheckClassifier(model, nameof(model));
        string x = input;
        foreach (var layer in model.Layers)
        {
            x = layer.ExportOnnx(graph, x);
        }
        return model.Layers[^1] is Softmax ? x : graph.AddNode("Softmax", [x], "softmax", OnnxAttribute.Of("axis", 1L));
    }

    private static OnnxModel Finish(OnnxGraphBuilder graph, IReadOnlyList<string>? classNames, IReadOnlyDictionary<string, string>? metadata)
    {
        var version = typeof(OnnxFile).Assembly.GetName().Version;
        var model = new OnnxModel
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = version is null ? "" : version.ToString(3),
            Graph = graph.Graph,
        };
        model.OperatorSets.Add(new OnnxOperatorSet("", OperatorSetVersion));
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            if (!FileOnlyKeys.Contains(key))
            {
                entries[key] = value;
            }
        }
        if (classNames is not null)
        {
            entries[ModelFile.ClassNamesKey] = ModelFile.ClassNamesText(classNames);
        }
        model.Metadata.AddRange(entries);
        return model;
    }
}
