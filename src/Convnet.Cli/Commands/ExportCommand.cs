using System.CommandLine;
using Convnet.Models;
using Convnet.Saving;

namespace Convnet.Cli.Commands;

internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL")
        {
            Description = "The model file to export (a single model or an ensemble).",
        };
        var outPath = new Option<string>("--out", "-o")
        {
            Description = "The .onnx file to write (written to a temporary file, then renamed; its folder must exist).",
            DefaultValueFactory = _ => "model.onnx",
        };
        var command = new Command("export", """
            Write a model file as ONNX (opset 13, IR version 7), to run in ONNX Runtime, Triton, browsers (onnxruntime-web) or phones.
            Input 'pixels': float32 [N, C, H, W] (NCHW, N any batch size), the raw pixel values 0-255 as the data holds them (no scaling: the graph divides by 255 itself); C is 1 for grayscale, 3 for RGB.
            Output 'probabilities': float32 [N, classes], each row summing to 1; an ensemble's graph averages its members' probabilities.
            Opset 13 is the oldest that has every operator used with today's meaning (Softmax over one axis), so the file runs on the widest range of runtimes.
            BatchNormalization is exported in inference form (moving mean and variance), Dropout is left out; metadata_props hold class_names and the model file's training settings.
            """)
        {
            model, outPath,
        };
        command.SetAction(parse => Cli.Execute(parse, output =>
        {
            string modelPath = parse.GetValue(model)!;
            string outFile = parse.GetValue(outPath)!;
            Cli.CheckExists(modelPath, "model");
            if (string.Equals(Path.GetFullPath(outFile), Path.GetFullPath(modelPath), StringComparison.Ordinal))
            {
                throw new UserError($"--out '{outFile}' is the model file itself; give the ONNX file another name");
            }
            Cli.CheckWritable(outFile, "ONNX file");
            var (net, metadata) = ModelFile.LoadClassifier(modelPath, threads: 1);
            using (net)
            {
                try
                {
                    net.SaveOnnx(outFile, metadata);
                }
                catch (NotSupportedException e)
                {
                    throw new UserError($"{modelPath}: cannot export: {e.Message}");
                }
                string what = net is Ensemble ensemble ? $"an ensemble of {ensemble.Members.Count} models" : "the model";
                var shape = net.InputShape;
                output.WriteLine($"Wrote {what} to {outFile} (ONNX opset {OnnxFile.OperatorSetVersion}): input '{OnnxFile.InputName}' float32 [N, {shape.Channels}, {shape.Height}, {shape.Width}] of raw pixel values 0-255, output '{OnnxFile.OutputName}' float32 [N, {net.Classes}].");
            }
            return 0;
        }));
        return command;
    }
}
