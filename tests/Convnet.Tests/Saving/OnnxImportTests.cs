using Convnet.Data;
using Convnet.IO;
using Convnet.IO.Onnx;
using Convnet.Layers;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Saving;

/// <summary>Importing ONNX classifiers (OnnxImport): PyTorch's reference network, each op, and the refusals.</summary>
public class OnnxImportTests
{
    private const string Source = "test.onnx";

    /// <summary>A model with one input [N, c, h, w] named "pixels", the nodes <paramref name="body"/> adds, and their last value as the output.</summary>
    internal static OnnxModel Graph(int h, int w, int c, Func<OnnxGraphBuilder, string, string> body)
    {
        var b = new OnnxGraphBuilder("test");
        string x = b.AddInput("pixels", OnnxDataType.Float, OnnxDimension.Symbolic("N"), OnnxDimension.Of(c), OnnxDimension.Of(h), OnnxDimension.Of(w));
        string y = body(b, x);
        b.AddOutput("out", OnnxDataType.Float, OnnxDimension.Symbolic("N"));
        b.AddNode("Identity", [y], ["out"]);
        var model = new OnnxModel { IrVersion = 7, ProducerName = "test", Graph = b.Graph };
        model.OperatorSets.Add(new OnnxOperatorSet("", 13));
        return model;
    }

    internal static float[] Random(int count, int seed, float scale = 0.5f)
    {
        var random = new System.Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale)];
    }

    private static Dataset Pixels(int count, Shape shape, int seed)
    {
        var random = new System.Random(seed);
        var pixels = new byte[count * shape.Size];
        random.NextBytes(pixels);
        return new Dataset(pixels, null, shape);
    }

    private static Sequential Import(OnnxModel onnx) => OnnxImport.Read(OnnxModel.Parse(onnx.ToBytes(), Source), Source, threads: 1).Model;

    [Theory]
    [InlineData]
    [InlineData("--bn")]
    [InlineData("--softmax")]
    public void PyTorchs_reference_network_imports_and_gives_PyTorchs_probabilities(params string[] options)
    {
        using var dir = new TempDir();
        var reference = PyTorchExport.Run(dir.Path, options);
        var (model, metadata) = OnnxImport.Load(reference.OnnxPath, threads: 1);
        using (model)
        {
            Assert.StartsWith("pytorch ", metadata["onnx_producer"]);
            Assert.Equal(options.Contains("--bn") ? 13 : 11, model.Layers.Count);
            Assert.IsType<Softmax>(model.Layers[^1]);
            var data = new Dataset([.. reference.Pixels.SelectMany(p => p)], null, Shape.Image(28, 28, 1));
            var ours = model.Predict(data);
            for (int i = 0; i < reference.Pixels.Length; i++)
            {
                var theirs = reference.Probabilities[i];
                var mine = ours.AsSpan(i * 10, 10);
                for (int k = 0; k < 10; k++)
                {
                    Assert.True(Math.Abs(mine[k] - theirs[k]) <= 1e-4, $"image {i}, class {k}: {mine[k]} here, {theirs[k]} in PyTorch");
                }
                Assert.Equal(Array.IndexOf(theirs, theirs.Max()), mine.IndexOf(mine.ToArray().Max()));
            }
        }
    }

    /// <summary>Conv 2×3×3 over 6×6×1, ReLU, then a flatten in the form given and a Dense of 3 units with <paramref name="dense"/>.</summary>
    private static OnnxModel ConvThenDense(Func<OnnxGraphBuilder, string, string> flatten, Func<OnnxGraphBuilder, string, string> dense) => Graph(6, 6, 1, (b, x) =>
    {
        string w = b.AddInitializer("conv.weight", [2, 1, 3, 3], Random(18, 1));
        string bias = b.AddInitializer("conv.bias", [2], Random(2, 2));
        string y = b.AddNode("Conv", [x, w, bias], "conv", OnnxAttribute.Of("kernel_shape", 3L, 3L));
        y = b.AddNode("Relu", [y], "relu");
        return dense(b, flatten(b, y));
    });

    private static readonly float[] DenseWeight = Random(3 * 32, 3);
    private static readonly float[] DenseBias = Random(3, 4);

    /// <summary>[3, 32] in (C, H, W) column order → the same weights for an (H, W, C) flatten of 4×4×2.</summary>
    private static float[] HwcColumns(float[] chw)
    {
        var hwc = new float[chw.Length];
        for (int o = 0; o < 3; o++)
        {
            for (int c = 0; c < 2; c++)
            {
                for (int p = 0; p < 16; p++)
                {
                    hwc[o * 32 + p * 2 + c] = chw[o * 32 + c * 16 + p];
                }
            }
        }
        return hwc;
    }

    [Fact]
    public void Flatten_Reshape_Transpose_Gemm_and_MatMul_Add_forms_of_one_network_import_to_the_same_model()
    {
        string Flatten(OnnxGraphBuilder b, string y) => b.AddNode("Flatten", [y], "flat");
        string Gemm(OnnxGraphBuilder b, string y) => b.AddNode("Gemm", [y, b.AddInitializer("fc.weight", [3, 32], DenseWeight), b.AddInitializer("fc.bias", [3], DenseBias)], "fc", OnnxAttribute.Of("transB", 1L));
        var forms = new[]
        {
            ConvThenDense(Flatten, Gemm),
            ConvThenDense((b, y) => b.AddNode("Reshape", [y, b.AddInitializer("shape", [2], [0L, -1L])], "flat"), Gemm),
            ConvThenDense(Flatten, (b, y) =>
            {
                var transposed = new float[DenseWeight.Length];
                Convnet.Kernels.Layouts.Transpose(DenseWeight, 3, 32, transposed);
                string m = b.AddNode("MatMul", [y, b.AddInitializer("fc.weight", [32, 3], transposed)], "mm");
                return b.AddNode("Add", [m, b.AddInitializer("fc.bias", [3], DenseBias)], "fc");
            }),
            ConvThenDense(
                (b, y) => b.AddNode("Flatten", [b.AddNode("Transpose", [y], "nhwc", OnnxAttribute.Of("perm", 0L, 2L, 3L, 1L))], "flat"),
                (b, y) => b.AddNode("Gemm", [y, b.AddInitializer("fc.weight", [3, 32], HwcColumns(DenseWeight)), b.AddInitializer("fc.bias", [1, 3], DenseBias)], "fc", OnnxAttribute.Of("transB", 1L))),
        };
        using var first = Import(forms[0]);
        Assert.Equal(["Conv2D", "ReLU", "Flatten", "Dense", "Softmax"], first.Layers.Select(l => l.TypeName));
        Assert.Equal(DenseWeight, first.Layers[3].SaveOwnTensors()[0]);
        Assert.Equal(DenseBias, first.Layers[3].SaveOwnTensors()[1]);
        var data = Pixels(5, Shape.Image(6, 6, 1), seed: 9);
        var expected = first.Predict(data);
        foreach (var form in forms.Skip(1))
        {
            using var model = Import(form);
            Assert.True(model.HasSameArchitecture(first));
            Assert.Equal(first.GetWeights(), model.GetWeights());
            Assert.Equal(expected, model.Predict(data));
        }
    }

    [Fact]
    public void Every_op_imports_as_its_layer_with_its_settings_and_weights()
    {
        var convWeight = Random(4 * 3 * 3 * 3, 5);
        var bn = new[] { Random(4, 6, 1f).Select(v => 1 + v / 2).ToArray(), Random(4, 7), Random(4, 8), Random(4, 9, 1f).Select(v => 1.5f + v).ToArray() };
        var onnx = Graph(7, 7, 3, (b, x) =>
        {
            string y = b.AddNode("Mul", [x, b.AddInitializer("scale", [], [1f / 255f])], "scaled");
            // 7×7, k3, s2, Keras same: out 4, padding 2 = 1 + 1; on 8×8 it would be 0 + 1.
            y = b.AddNode("Conv", [y, b.AddInitializer("w", [4, 3, 3, 3], convWeight)], "conv", OnnxAttribute.Of("strides", 2L, 2L), OnnxAttribute.Of("pads", 1L, 1L, 1L, 1L));
            y = b.AddNode("BatchNormalization", [y, .. bn.Select((t, i) => b.AddInitializer($"bn{i}", [4], t))], "bn", OnnxAttribute.Of("epsilon", 1e-5f), OnnxAttribute.Of("momentum", 0.9f));
            y = b.AddNode("LeakyRelu", [y], "leaky", OnnxAttribute.Of("alpha", 0.2f));
            y = b.AddNode("AveragePool", [y], "avg", OnnxAttribute.Of("kernel_shape", 2L, 2L));
            y = b.AddNode("MaxPool", [y], "max", OnnxAttribute.Of("kernel_shape", 2L, 2L), OnnxAttribute.Of("strides", 1L, 1L));
            y = b.AddNode("Dropout", [y, b.AddInitializer("ratio", [], [0.3f])], "drop");
            y = b.AddNode("GlobalAveragePool", [y], "gap");
            y = b.AddNode("Flatten", [y], "flat");
            y = b.AddNode("Gemm", [y, b.AddInitializer("fc", [4, 5], Random(20, 10))], "fc");
            return b.AddNode("Softmax", [y], "softmax", OnnxAttribute.Of("axis", 1L));
        });
        using var model = Import(onnx);
        Assert.Equal(["Conv2D", "BatchNormalization", "LeakyReLU", "AveragePooling2D", "MaxPooling2D", "Dropout", "GlobalAveragePooling2D", "Dense", "Softmax"], model.Layers.Select(l => l.TypeName));
        var conv = Assert.IsType<Conv2D>(model.Layers[0]);
        Assert.Equal((4, 3, 2, Padding.Same), (conv.Filters, conv.KernelSize, conv.Stride, conv.Padding));
        Assert.Equal(convWeight, conv.SaveOwnTensors()[0]);
        Assert.Equal(new float[4], conv.SaveOwnTensors()[1]);
        var norm = Assert.IsType<BatchNormalization>(model.Layers[1]);
        Assert.Equal((0.9f, 1e-5f), (norm.Momentum, norm.Epsilon));
        Assert.Equal(bn, norm.SaveOwnTensors());
        Assert.Equal(0.2f, Assert.IsType<LeakyReLU>(model.Layers[2]).NegativeSlope);
        var avg = Assert.IsType<AveragePooling2D>(model.Layers[3]);
        Assert.Equal((2, 1), (avg.PoolSize, avg.Stride)); // ONNX's strides default to 1
        Assert.Equal(0.3f, Assert.IsType<Dropout>(model.Layers[5]).Rate);
        var dense = Assert.IsType<Dense>(model.Layers[7]);
        Assert.Equal(5, dense.Units);
        var transposed = new float[20];
        Convnet.Kernels.Layouts.Transpose(Random(20, 10), 4, 5, transposed);
        Assert.Equal(transposed, dense.SaveOwnTensors()[0]);
    }

    public static TheoryData<string, string> Refusals => new()
    {
        { "sigmoid", "node 1 'Sigmoid' (Sigmoid): unsupported op 'Sigmoid'; convnet imports " + OnnxImport.Ops },
        { "group", "node 0 'Conv' (Conv): group 2: convnet imports ordinary convolutions (group 1), not grouped or depthwise ones" },
        { "pads", "node 0 'Conv' (Conv): pads [1, 1, 0, 0] (top, left, bottom, right): convnet pads none or as Keras's 'same', here [1, 1, 1, 1]" },
        { "rank", "input 'pixels' is Float with shape [N, 784]; convnet imports a float32 image input [N, C, H, W] with C 1 or 3 and sides from 1 to 16384" },
        { "channels", "input 'pixels' is Float with shape [N, 4, 6, 6]; convnet imports a float32 image input [N, C, H, W] with C 1 or 3 and sides from 1 to 16384" },
        { "branch", "value 'pixels' feeds 2 nodes (node 0 'Relu' (Relu), node 1 'Relu_1' (Relu)); convnet imports a chain of layers, without branches" },
        { "mul", "node 0 'Mul' (Mul): convnet imports a Mul at the input only by the scalar 1/255 (its own export's scaling of 0-255 pixels)" },
        { "div", "node 0 'Div' (Div): convnet imports a Div at the input only by the scalar 255 (its own export's scaling of 0-255 pixels)" },
        { "weights", "node 0 'Conv' (Conv): input 2 'computed' must be a constant (an initializer); convnet imports weights, not computed values" },
        { "dense-image", "node 0 'Gemm' (Gemm): needs a vector input (a Flatten before it), got (6, 6, 1)" },
        { "ceil", "node 0 'MaxPool' (MaxPool): convnet pools with ceil_mode 0 and storage_order 0" },
        { "huge", "input 'pixels' is Float with shape [N, 1, 100000, 6]; convnet imports a float32 image input [N, C, H, W] with C 1 or 3 and sides from 1 to 16384" },
    };

    private static OnnxModel Refused(string kind) => kind switch
    {
        "sigmoid" => Graph(6, 6, 1, (b, x) => b.AddNode("Sigmoid", [b.AddNode("Relu", [x], "r")], "s")),
        "group" => Graph(6, 6, 1, (b, x) => b.AddNode("Conv", [x, b.AddInitializer("w", [2, 1, 3, 3], Random(18, 1))], "c", OnnxAttribute.Of("group", 2L))),
        "pads" => Graph(6, 6, 1, (b, x) => b.AddNode("Conv", [x, b.AddInitializer("w", [2, 1, 3, 3], Random(18, 1))], "c", OnnxAttribute.Of("pads", 1L, 1L, 0L, 0L))),
        "rank" => RankTwo(),
        "channels" => Graph(6, 6, 4, (b, x) => b.AddNode("Relu", [x], "r")),
        "branch" => Graph(6, 6, 1, (b, x) =>
        {
            string a = b.AddNode("Relu", [x], "a");
            string c = b.AddNode("Relu", [x], "c");
            return b.AddNode("Add", [a, c], "sum");
        }),
        "mul" => Graph(6, 6, 1, (b, x) => b.AddNode("Mul", [x, b.AddInitializer("s", [], [0.5f])], "m")),
        "div" => Graph(6, 6, 1, (b, x) => b.AddNode("Div", [x, b.AddInitializer("s", [], [256f])], "d")),
        "weights" => Graph(6, 6, 1, (b, x) => b.AddNode("Conv", [x, "computed"], "c")),
        "dense-image" => Graph(6, 6, 1, (b, x) => b.AddNode("Gemm", [x, b.AddInitializer("w", [3, 36], Random(108, 1))], "g")),
        "ceil" => Graph(6, 6, 1, (b, x) => b.AddNode("MaxPool", [x], "p", OnnxAttribute.Of("kernel_shape", 2L, 2L), OnnxAttribute.Of("ceil_mode", 1L))),
        "huge" => Graph(100000, 6, 1, (b, x) => b.AddNode("Relu", [x], "r")),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static OnnxModel RankTwo()
    {
        var model = Graph(6, 6, 1, (b, x) => b.AddNode("Relu", [x], "r"));
        model.Graph.Inputs[0].Shape = [OnnxDimension.Symbolic("N"), OnnxDimension.Of(784)];
        return model;
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public void What_convnet_cannot_import_is_refused_naming_the_node_and_op(string kind, string message)
    {
        var e = Assert.Throws<ModelFormatException>(() => Import(Refused(kind)).Dispose());
        Assert.Equal($"{Source}: {message}", e.Message);
    }

    [Fact]
    public void A_truncated_file_is_refused_naming_it()
    {
        using var dir = new TempDir();
        var bytes = ConvThenDense((b, y) => b.AddNode("Flatten", [y], "f"), (b, y) => b.AddNode("Gemm", [y, b.AddInitializer("w", [3, 32], DenseWeight)], "g", OnnxAttribute.Of("transB", 1L))).ToBytes();
        foreach (int length in new[] { bytes.Length - 1, bytes.Length / 2, 7 })
        {
            string path = dir.Write($"cut{length}.onnx", bytes[..length]);
            var e = Assert.Throws<ModelFormatException>(() => OnnxImport.Load(path, threads: 1).Model.Dispose());
            Assert.StartsWith($"{path}: ", e.Message);
        }
        string whole = dir.Write("whole.onnx", bytes);
        OnnxImport.Load(whole, threads: 1).Model.Dispose();

        // A weight whose dims claim far more values than the file holds: refused as it is read.
        var claims = Graph(6, 6, 1, (b, x) =>
        {
            b.Graph.Initializers.Add(new OnnxTensor { Name = "w", DataType = OnnxDataType.Float, Dims = [1000000, 1, 3, 3], Floats = Random(18, 1) });
            return b.AddNode("Conv", [x, "w"], "c");
        });
        string overstated = dir.Write("overstated.onnx", claims.ToBytes());
        var f = Assert.Throws<ModelFormatException>(() => OnnxImport.Load(overstated, threads: 1).Model.Dispose());
        Assert.StartsWith($"{overstated}: not a valid ONNX file: tensor 'w' declares 9000000 values but holds 18", f.Message);
    }

    [Fact]
    public void Class_names_come_from_the_metadata_and_model_file_keys_are_left_to_the_model_file()
    {
        var onnx = ConvThenDense((b, y) => b.AddNode("Flatten", [y], "f"), (b, y) => b.AddNode("Gemm", [y, b.AddInitializer("w", [3, 32], DenseWeight)], "g", OnnxAttribute.Of("transB", 1L)));
        onnx.Metadata.Add(new("class_names", "[\"cat\",\"dog\",\"bird\"]"));
        onnx.Metadata.Add(new("epochs", "7"));
        onnx.Metadata.Add(new("ensemble", "2"));
        onnx.Metadata.Add(new("member0.seed", "2"));
        var (model, metadata) = OnnxImport.Read(onnx, Source, threads: 1);
        using (model)
        {
            Assert.Equal(["cat", "dog", "bird"], model.ClassNames);
            Assert.Equal("7", metadata["epochs"]);
            Assert.False(metadata.ContainsKey("ensemble"));
            Assert.False(metadata.ContainsKey("member0.seed"));
            Assert.Equal("test.onnx", metadata["imported_from"]);
        }
        onnx.Metadata[0] = new("class_names", "[\"cat\",\"dog\"]");
        var e = Assert.Throws<ModelFormatException>(() => OnnxImport.Read(onnx, Source, threads: 1).Model.Dispose());
        Assert.Equal($"{Source}: metadata class_names names 2 classes but the model scores 3", e.Message);
    }
}
