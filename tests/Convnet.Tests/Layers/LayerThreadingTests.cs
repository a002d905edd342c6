using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Layers;

/// <summary>
/// Work is split into chunks of 16 samples (run in parts of 4 or 8 where a layer treats samples
/// alone) and fixed reduction blocks, never by thread count, so a
/// layer's outputs, input gradients and parameter gradients must be bit-identical on one and on two
/// threads, for every batch size from 1 to 40 (one, two and three chunks, full and partial).
/// </summary>
public class LayerThreadingTests
{
    public static TheoryData<string> Layers =>
    [
        // 12×12×3 → rows = 40·144 = 5760 > 4096 with a 27-column patch: the segmented reduction.
        "conv-same-segmented",
        "conv-direct-first-layer",
        "conv-stride2-phases",
        // 9×9×8, 72-column patch: dW is reduced in two row blocks of 48.
        "conv-valid-row-blocks",
        // 3×3 and 1×1 output maps: several images share one GEMM (8 and 16 per product).
        "conv-small-map",
        "conv-one-pixel",
        // 3×3 stride 1 with ≥ 8 channels each way: Winograd forward and input gradient (4×4 and 2×2 tiles).
        "conv-winograd-valid",
        "conv-winograd-same",
        "dense-row-blocks",
        "dense-small",
        // 130 units over 150 inputs: three column blocks each way, the last short.
        "dense-column-blocks",
        "maxpool",
        "maxpool-overlapping-wide",
        "relu",
        "leakyrelu",
        "flatten",
        "softmax",
        "dropout",
        "batchnorm-image",
        "batchnorm-vector",
        "avgpool-overlapping",
        "global-avgpool",
    ];

    private static (Layer Layer, Shape Input) Create(string name) => name switch
    {
        "conv-same-segmented" => (new Conv2D(8, 3, 1, Padding.Same), Shape.Image(12, 12, 3)),
        "conv-direct-first-layer" => (new Conv2D(32, 3), Shape.Image(28, 28, 1)),
        "conv-stride2-phases" => (new Conv2D(16, 5, 2, Padding.Same), Shape.Image(17, 16, 8)),
        "conv-valid-row-blocks" => (new Conv2D(20, 3, 2, Padding.Valid), Shape.Image(9, 9, 8)),
        "conv-small-map" => (new Conv2D(6, 3), Shape.Image(5, 5, 4)),
        "conv-one-pixel" => (new Conv2D(5, 4), Shape.Image(4, 4, 3)),
        "conv-winograd-valid" => (new Conv2D(16, 3), Shape.Image(13, 13, 8)),
        "conv-winograd-same" => (new Conv2D(8, 3, 1, Padding.Same), Shape.Image(6, 5, 12)),
        "dense-row-blocks" => (new Dense(10), Shape.Vector(100)),
        "dense-small" => (new Dense(7), Shape.Vector(30)),
        "dense-column-blocks" => (new Dense(130), Shape.Vector(150)),
        "maxpool" => (new MaxPooling2D(2), Shape.Image(8, 8, 5)),
        "maxpool-overlapping-wide" => (new MaxPooling2D(3, 2), Shape.Image(9, 9, 37)),
        "relu" => (new ReLU(), Shape.Image(7, 7, 3)),
        "leakyrelu" => (new LeakyReLU(0.1f), Shape.Image(7, 7, 3)),
        "flatten" => (new Flatten(), Shape.Image(5, 4, 3)),
        "softmax" => (new Convnet.Layers.Softmax(), Shape.Vector(12)),
        "avgpool-overlapping" => (new AveragePooling2D(3, 2), Shape.Image(9, 9, 5)),
        "global-avgpool" => (new GlobalAveragePooling2D(), Shape.Image(5, 6, 7)),
        "dropout" => (new Dropout(0.3f), Shape.Image(6, 5, 3)),
        "batchnorm-image" => (new BatchNormalization(), Shape.Image(6, 5, 7)),
        "batchnorm-vector" => (new BatchNormalization(momentum: 0.9f), Shape.Vector(33)),
        _ => throw new ArgumentException(name),
    };

    private const int MaxBatch = 40;

    [Theory]
    [MemberData(nameof(Layers))]
    public void One_and_two_threads_give_bit_identical_results_for_batches_1_to_40(string name)
    {
        using var pool1 = new WorkerPool(1);
        using var pool2 = new WorkerPool(2);
        var (one, input) = Create(name);
        var (two, _) = Create(name);
        var store1 = new ParameterStore();
        var store2 = new ParameterStore();
        one.Build(input, new LayerContext(pool1, store1, 17, 0));
        two.Build(input, new LayerContext(pool2, store2, 17, 0));
        Numerics.AssertBitEqual(store1.Values, store2.Values, $"{name} initial parameters");
        one.EnsureCapacity(MaxBatch);
        two.EnsureCapacity(MaxBatch);
        var x = new Tensor(input, MaxBatch);
        var dy = new Tensor(one.OutputShape, MaxBatch);
        var rng = new Rng(5);
        for (int batch = 1; batch <= MaxBatch; batch++)
        {
            x.SetBatch(batch);
            dy.SetBatch(batch);
            Numerics.Uniform(ref rng, x.Span);
            Numerics.Uniform(ref rng, dy.Span);
            string at = $"{name}, batch {batch}";

            Numerics.AssertBitEqual(one.Forward(x, training: true).Span, two.Forward(x, training: true).Span, $"{at}: forward");
            store1.ZeroGradients();
            store2.ZeroGradients();
            Numerics.AssertBitEqual(one.Backward(dy)!.Span, two.Backward(dy)!.Span, $"{at}: input gradient");
            Numerics.AssertBitEqual(store1.Gradients, store2.Gradients, $"{at}: parameter gradients");
            for (int s = 0; s < one.State.Count; s++)
            {
                Numerics.AssertBitEqual(one.State[s].Values, two.State[s].Values, $"{at}: state {one.State[s].Name}");
            }
        }
    }

    /// <summary>
    /// Inference keeps one image's columns per chunk instead of the batch's: the outputs must equal a
    /// training-mode Forward's bit for bit over several chunks, and Backward must refuse to run on
    /// columns it no longer has (then work again after a training Forward).
    /// </summary>
    [Theory]
    [InlineData("conv-same-segmented")]
    [InlineData("conv-direct-first-layer")]
    [InlineData("conv-stride2-phases")]
    [InlineData("conv-valid-row-blocks")]
    [InlineData("conv-small-map")]
    [InlineData("conv-one-pixel")]
    [InlineData("conv-winograd-valid")]
    [InlineData("conv-winograd-same")]
    public void Conv2D_inference_forward_equals_training_forward_and_backward_needs_training(string name)
    {
        using var pool = new WorkerPool(2);
        var (layer, input) = Create(name);
        layer.Build(input, new LayerContext(pool, new ParameterStore(), 17, 0));
        layer.EnsureCapacity(MaxBatch);
        var x = new Tensor(input, MaxBatch);
        var rng = new Rng(9);
        Numerics.Uniform(ref rng, x.Span);
        var inference = layer.Forward(x, training: false).Span.ToArray();
        var dy = new Tensor(layer.OutputShape, MaxBatch);
        Assert.Throws<InvalidOperationException>(() => layer.Backward(dy));
        var training = layer.Forward(x, training: true).Span.ToArray();
        Numerics.AssertBitEqual(training, inference, $"{name}: inference vs training forward");
        Assert.NotNull(layer.Backward(dy));
    }

    /// <summary>
    /// Small output maps are multiplied several images at a time; each sample's output and input
    /// gradient must still be the bits it gets alone, whatever the batch and its place in it.
    /// </summary>
    [Theory]
    [InlineData("conv-small-map")]
    [InlineData("conv-one-pixel")]
    [InlineData("conv-valid-row-blocks")]
    [InlineData("conv-winograd-valid")]
    [InlineData("conv-winograd-same")]
    public void Conv2D_gives_each_sample_the_bits_it_gets_alone(string name)
    {
        using var pool = new WorkerPool(2);
        var (batched, input) = Create(name);
        var (single, _) = Create(name);
        batched.Build(input, new LayerContext(pool, new ParameterStore(), 17, 0));
        single.Build(input, new LayerContext(pool, new ParameterStore(), 17, 0));
        batched.EnsureCapacity(MaxBatch);
        single.EnsureCapacity(1);
        var x = new Tensor(input, MaxBatch);
        var dy = new Tensor(batched.OutputShape, MaxBatch);
        var rng = new Rng(11);
        Numerics.Uniform(ref rng, x.Span);
        Numerics.Uniform(ref rng, dy.Span);
        var y = batched.Forward(x, training: true).Span.ToArray();
        var dx = batched.Backward(dy)!.Span.ToArray();
        var x1 = new Tensor(input, 1);
        var dy1 = new Tensor(batched.OutputShape, 1);
        x1.SetBatch(1);
        dy1.SetBatch(1);
        for (int i = 0; i < MaxBatch; i++)
        {
            x.Sample(i).CopyTo(x1.Span);
            dy.Sample(i).CopyTo(dy1.Span);
            int outSize = batched.OutputShape.Size;
            Numerics.AssertBitEqual(single.Forward(x1, training: true).Span, y.AsSpan(i * outSize, outSize), $"{name}, sample {i}: forward");
            Numerics.AssertBitEqual(single.Backward(dy1)!.Span, dx.AsSpan(i * input.Size, input.Size), $"{name}, sample {i}: input gradient");
        }
    }
}
