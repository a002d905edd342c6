using BenchmarkDotNet.Attributes;
using Convnet.Architecture;
using Convnet.Data;
using Convnet.Models;
using Convnet.Saving;
using Convnet.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace Convnet.Benchmarks;

/// <summary>
/// Inference beside ONNX Runtime (issue 17): a recipe's model (the reference network "simple", and
/// "strong") exported by <see cref="OnnxFile"/> and run by ONNX Runtime's CPU provider on the same
/// images and thread count as our own <see cref="Sequential.Predict(Dataset, int)"/>: a batch of
/// 1,000 (throughput) and one image (latency). Both sides start from the same pixels: ours from the
/// bytes (scaled by 1/255 on the way in), ONNX Runtime's from them as float32 0–255 NCHW (scaled by
/// the graph's Div); ONNX Runtime's input tensors are made once, outside the measurement. The
/// weights are a fresh seed-1 initialisation: speed does not depend on their values.
/// </summary>
public class OnnxRuntimeBenchmarks
{
    private static readonly Shape Input = Shape.Image(28, 28, 1);
    private Sequential _model = null!;
    private Dataset _data = null!;
    private Dataset _one = null!;
    private InferenceSession _session = null!;
    private RunOptions _runOptions = null!;
    private OrtValue _batchInput = null!;
    private OrtValue _oneInput = null!;

    [Params("simple", "strong")]
    public string Recipe { get; set; } = "simple";

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = Architectures.Create(Recipe, Input, 10, seed: 1, threads: Threads);
        _data = Fixtures.SyntheticMnist(Fixtures.InferenceBatch);
        _one = new Dataset(_data.Image(0).ToArray(), null, Input);
        var options = new SessionOptions
        {
            IntraOpNumThreads = Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(_model.ToOnnx().ToBytes(), options);
        _runOptions = new RunOptions();
        _batchInput = Pixels(_data);
        _oneInput = Pixels(_one);
        OursBatch();
        OnnxRuntimeBatch();
        OursOne();
        OnnxRuntimeOne();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _batchInput.Dispose();
        _oneInput.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
        _model.Dispose();
    }

    /// <summary>Our inference of 1,000 images in one batch.</summary>
    [Benchmark(Baseline = true)]
    public float[] OursBatch() => _model.Predict(_data, Fixtures.InferenceBatch);

    /// <summary>ONNX Runtime on the same 1,000 images.</summary>
    [Benchmark]
    public float OnnxRuntimeBatch() => Run(_batchInput);

    /// <summary>Our inference of one image.</summary>
    [Benchmark]
    public float[] OursOne() => _model.Predict(_one, 1);

    /// <summary>ONNX Runtime on the same image.</summary>
    [Benchmark]
    public float OnnxRuntimeOne() => Run(_oneInput);

    private float Run(OrtValue input)
    {
        using var outputs = _session.Run(_runOptions, [OnnxFile.InputName], [input], [OnnxFile.OutputName]);
        return outputs[0].GetTensorDataAsSpan<float>()[0];
    }

    // The data's bytes [N, H, W, C] as float32 0–255 [N, C, H, W], the graph's input.
    private static OrtValue Pixels(Dataset data)
    {
        var shape = data.SampleShape;
        int n = data.Count, h = shape.Height, w = shape.Width, c = shape.Channels;
        var nchw = new float[n * shape.Size];
        for (int i = 0; i < n; i++)
        {
            var image = data.Image(i);
            for (int p = 0; p < h * w; p++)
            {
                for (int ch = 0; ch < c; ch++)
                {
                    nchw[(i * c + ch) * h * w + p] = image[p * c + ch];
                }
            }
        }
        return OrtValue.CreateTensorValueFromMemory(nchw, [n, c, h, w]);
    }
}
