using System.CommandLine;
using Convnet.Saving;

namespace Convnet.Cli.Commands;

/// <summary><c>convnet import</c>: reads an ONNX classifier with the library's <see cref="OnnxImport"/> and saves it as a model file.</summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var onnx = new Argument<string>("MODEL.onnx") { Description = "The ONNX file: a CNN classifier, e.g. from PyTorch's torch.onnx.export or convnet export." };
        var outPath = new Option<string>("--out", "-o")
        {
            Description = "The model file to write (written to a temporary file, then renamed).",
            DefaultValueFactory = _ => "model.safetensors",
        };
        var command = new Command("import", "Convert an ONNX classifier into a convnet model file, to evaluate, predict with or fine-tune (train --from). "
            + $"The graph must be one chain from one float input [N, C, H, W] (C 1 or 3) to one output, of the ops {OnnxImport.Ops}; "
            + "convolutions pad none or as Keras's 'same' (ONNX SAME_UPPER), windows are square, Conv has group 1 and Gemm alpha = beta = 1. "
            + "Anything else is refused naming the node and its op. The network is taken to expect pixels scaled to 0-1 (each byte divided by 255, as convnet's data path gives them), "
            + "unless it begins with convnet export's Div by 255 (or a Mul by 1/255); without a final Softmax one is appended, so the model outputs probabilities. "
            + "Class names come from the file's metadata_props 'class_names' (a JSON array), and every other metadata entry is kept.")
        {
            onnx, outPath,
        };
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string path = parse.GetValue(onnx)!;
            string outFile = parse.GetValue(outPath)!;
            Cli.CheckExists(path, "ONNX");
            Cli.CheckWritable(outFile, "model");
            var (model, metadata) = OnnxImport.Load(path, threads: 1);
            using (model)
            {
                model.Save(outFile, metadata);
                string names = model.ClassNames is { } n ? $" ({string.Join(", ", n)})" : "";
                string producer = metadata["onnx_producer"] is { Length: > 0 } tool ? $" ({tool})" : "";
                output.WriteLine($"Imported {path}{producer}: {model.Layers.Count} layers, {model.ParameterCount:N0} parameters, images of {model.InputShape.Height}×{model.InputShape.Width}×{model.InputShape.Channels}, {model.Classes} classes{names}. Saved {outFile}.");
            }
            return 0;
        }));
        return command;
    }
}
