"""Every exact or certified region count, in one place: the exact breakpoints of a network on raw
1D coordinates (``breakpoints1d``), certified 1D counts through any encoding (``certified1d``)
and the exact 2D partition through the optional ``regioncam`` package (``partition2d``)."""
