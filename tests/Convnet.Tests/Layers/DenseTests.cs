using Convnet.Layers;
using Convnet.Runtime;
using Convnet.Tensors;
using Convnet.Tests.Support;
using Xunit;

namespace Convnet.Tests.Layers;

/// <summary>
/// Dense's GEMMs run by blocks of output columns over the whole batch: with several blocks, a short
/// last block and more rows than the few-row path takes, the forward and the input gradient must be
/// the plain sums, each output's products fused one after another in input order (one k block of
/// the GEMM) and the bias added last, bit for bit.
/// </summary>
public class DenseTests
{
    [Theory]
    [InlineData(150, 130, 5)]
    [InlineData(200, 64, 17)]
    [InlineData(70, 193, 40)]
    public void Forward_and_input_gradient_by_column_blocks_are_the_plain_sums(int inputs, int units, int batch)
    {
        using var pool = new WorkerPool(2);
        var store = new ParameterStore();
        var layer = new Dense(units);
        layer.Build(Shape.Vector(inputs), new LayerContext(pool, store, 3, 0));
        var rng = new Rng(11);
        Numerics.Uniform(ref rng, layer.Bias.Value);
        var x = new Tensor(Shape.Vector(inputs), batch);
        var dy = new Tensor(Shape.Vector(units), batch);
        Numerics.Uniform(ref rng, x.Span);
        Numerics.Uniform(ref rng, dy.Span);
        var w = layer.Kernel.Value.ToArray();
        var b = layer.Bias.Value.ToArray();

        var y = layer.Forward(x, training: true).Span.ToArray();
        var expected = new float[batch * units];
        for (int n = 0; n < batch; n++)
        {
            for (int j = 0; j < units; j++)
            {
                float sum = 0;
                for (int k = 0; k < inputs; k++)
                {
                    sum = MathF.FusedMultiplyAdd(x.Span[n * inputs + k], w[k * units + j], sum);
                }
                expected[n * units + j] = sum + b[j];
            }
        }
        Numerics.AssertBitEqual(expected, y, $"forward {inputs}→{units}, batch {batch}");

        var dx = layer.Backward(dy)!.Span.ToArray();
        var expectedDx = new float[batch * inputs];
        for (int n = 0; n < batch; n++)
        {
            for (int k = 0; k < inputs; k++)
            {
                float sum = 0;
                for (int j = 0; j < units; j++)
                {
                    sum = MathF.FusedMultiplyAdd(dy.Span[n * units + j], w[k * units + j], sum);
                }
                expectedDx[n * inputs + k] = sum;
            }
        }
        Numerics.AssertBitEqual(expectedDx, dx, $"input gradient {inputs}→{units}, batch {batch}");
    }
}
