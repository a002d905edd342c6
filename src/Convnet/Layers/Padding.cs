namespace Convnet.Layers;

/// <summary>How a convolution treats the border of its input, as Keras's <c>padding</c> argument.</summary>
public enum Padding
{
    /// <summary>No padding: the output shrinks by kernel − 1.</summary>
    Valid,

    /// <summary>Zero padding so that the output is ceil(input / stride).</summary>
    Same,
}
